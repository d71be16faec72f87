/**
 * Issue 10's guarantees on the kvm engine: its binding turns every C++ exception into a
 * JavaScript error (bad arguments never abort Node; a bad image is 'bad-image', a damaged
 * log keeps its code, chunk and offset), its ELF loader refuses overlapping segments,
 * SIGINT during record stops the VM and keeps the sealed log, a replay of an incomplete log
 * stops at the last exit the log vouches for, and -o may not name the disk image.
 * (The engine-neutral parts, the same for both engines, are tested on emu: test/hostile-input.test.ts.)
 */
import { execFile, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, test } from 'vitest';
import { readLogFile } from '../../src/analysis/log-reader.js';
import { EXIT } from '../../src/cli/exit-status.js';
import { builtGuestPath, GUESTS_DIR, REPO_ROOT } from '../../src/guests/catalog.js';
import { writeDiskImage } from '../../src/guests/disk-image.js';
import { native } from '../../src/native.js';
import { lastLandmarks } from '../last-landmarks.js';

const execFileAsync = promisify(execFile);
const RRKIT = join(REPO_ROOT, 'bin', 'rrkit');
const dir = mkdtempSync(join(tmpdir(), 'rrkit-kvm-hostile-'));
const NEVER_EXITS = join(GUESTS_DIR, 'build', 'x86_64', 'kvm-tests', 'never-exits.elf');
const STORM = join(GUESTS_DIR, 'build', 'x86_64', 'kvm-tests', 'interrupt-storm.elf');

async function rrkit(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return execFileAsync(RRKIT, args, { cwd: dir, timeout: 120_000 }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );
}

/** The x86_64 matmul with its second PT_LOAD (.bss) moved inside the first (the code). */
function overlappingX86Elf(): string {
  const elf = Buffer.from(readFileSync(builtGuestPath('matmul', 'x86_64', true)));
  const phoff = Number(elf.readBigUInt64LE(32));
  const second = phoff + elf.readUInt16LE(54);
  expect(elf.readUInt32LE(phoff)).toBe(1);
  expect(elf.readUInt32LE(second)).toBe(1);
  elf.writeBigUInt64LE(0x10_0100n, second + 16); // p_vaddr
  elf.writeBigUInt64LE(0x10_0100n, second + 24); // p_paddr
  const path = join(dir, 'overlap-x86.elf');
  writeFileSync(path, elf);
  return path;
}

// In a child process, so that an abort shows as its status instead of ending the test run.
const CHILD = String.raw`
const a = require(process.argv[1]);
const image = require('fs').readFileSync(process.argv[2]);
const overlap = require('fs').readFileSync(process.argv[3]);
const run = (...changed) => {
  const args = [image, 'g.elf', 1, 16 << 20, 1000, 0n, null, true, null, null, null];
  for (const [i, v] of changed) args[i] = v;
  return a.kvmRun(...args);
};
const cases = {
  'kvmRun()': () => a.kvmRun(),
  '0 vCPUs': () => run([2, 0]),
  'image not a Buffer': () => run([0, 'elf']),
  'image not an ELF': () => run([0, Buffer.from('not an elf')]),
  'overlapping segments': () => run([0, overlap], [1, 'overlap-x86.elf']),
  'RAM of 1e20 bytes': () => run([3, 1e20]),
  'NaN timeout': () => run([4, NaN]),
  'a number checkpoint interval': () => run([5, 5]),
  "input 'x'": () => run([6, 'x']),
  "capture 'yes'": () => run([7, 'yes']),
  'session 5': () => run([8, 5]),
  "session mode 'x'": () => run([8, { mode: 'x', path: '/tmp/x' }]),
  'record with a string imageHash': () => run([8, { mode: 'record', path: '/tmp/never-written.rrlog', imageHash: 'zz', imagePath: 'g', crewGranularity: 0, crewHold: 0, configJson: '{}' }]),
  'replay a missing log': () => run([8, { mode: 'replay', path: '/nonexistent/x.rrlog' }]),
  'disk 5': () => run([10, 5]),
  'disk path 5': () => run([10, { path: 5, sectors: 0, shared: false }]),
  'progress without a callback': () => run([9, { callback: 5, intervalMs: 100 }]),
};
(async () => {
  for (const [name, call] of Object.entries(cases)) {
    let out;
    try {
      const value = call();
      if (value && typeof value.then === 'function') await value;
      out = { name, threw: false };
    } catch (e) {
      out = { name, threw: true, kind: e.constructor.name, code: e.code, chunk: e.chunk, offset: e.offset, message: String(e.message) };
    }
    process.stdout.write(JSON.stringify(out) + '\n');
  }
  const probe = a.kvmProbe(5);
  process.stdout.write(JSON.stringify({ name: 'kvmProbe(5)', threw: false, available: probe.available }) + '\n');
})();
`;

describe('the kvm binding, crossed with bad arguments', () => {
  test('every bad call throws a JavaScript error with its code; none aborts Node', () => {
    const addon = join(REPO_ROOT, 'build', 'Release', 'rrkit.node');
    const child = spawnSync(process.execPath, ['-e', CHILD, addon, builtGuestPath('matmul', 'x86_64', true), overlappingX86Elf()], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(child.status, `${child.signal ?? ''} ${child.stderr}`).toBe(0);
    const outcomes = new Map(
      child.stdout
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as { name: string; threw: boolean; kind?: string; code?: string; chunk?: number; offset?: number; message?: string; available?: boolean })
        .map((o) => [o.name, o]),
    );
    expect(outcomes.size).toBe(18);
    for (const [name, o] of outcomes) if (name !== 'kvmProbe(5)') expect(o.threw, name).toBe(true);
    expect(outcomes.get('image not an ELF')).toMatchObject({ code: 'bad-image', message: 'g.elf: not an ELF file' });
    expect(outcomes.get('overlapping segments')?.code).toBe('bad-image');
    expect(outcomes.get('overlapping segments')?.message).toMatch(/overlap-x86\.elf: segments 0 \(0x100000\.\.0x[0-9a-f]+\) and 1 \(0x100100\.\.0x[0-9a-f]+\) overlap/);
    expect(outcomes.get('RAM of 1e20 bytes')).toMatchObject({ kind: 'RangeError', code: 'bad-argument' });
    expect(outcomes.get("session mode 'x'")).toMatchObject({ kind: 'TypeError', code: 'bad-argument' });
    expect(outcomes.get('record with a string imageHash')?.message).toMatch(/session\.imageHash must be a Buffer/);
    expect(outcomes.get('replay a missing log')).toMatchObject({ code: 'io', chunk: -1, offset: 0 });
    expect(outcomes.get('disk path 5')?.message).toMatch(/disk\.path must be a string or null/);
    expect(outcomes.get('kvmProbe(5)')?.available).toBe(true); // a non-string path: /dev/kvm
  }, 90_000);
});

describe('rrkit on kvm, given hostile input', () => {
  test('an x86_64 ELF with overlapping segments: one line, a bad image (120)', async () => {
    const run = await rrkit('run', overlappingX86Elf());
    expect(run.code, run.stderr).toBe(EXIT.damaged);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toMatch(/segments 0 .* and 1 .* overlap/);
  });

  test('record -o naming the disk image: refused, even with --force, the disk untouched', async () => {
    const disk = join(dir, 'disk.img');
    await writeDiskImage(disk, 64);
    const before = readFileSync(disk);
    const run = await rrkit('record', 'disk-checksum.small', '--disk', disk, '-o', disk, '--force');
    expect(run.code).toBe(EXIT.usage);
    expect(run.stderr).toMatch(/disk\.img: is the disk image \(--disk\), which this recording reads/);
    expect(readFileSync(disk).equals(before)).toBe(true);
  });

  test('SIGINT while recording a guest that never exits: the VM stopped, the log kept and said to be incomplete, 130', async () => {
    const out = join(dir, 'sigint.rrlog');
    const child = spawn(RRKIT, ['record', NEVER_EXITS, '-o', out], { cwd: dir });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    // Until the recording runs (its partial log exists), then a little longer.
    for (let i = 0; i < 300; i++) {
      try {
        readFileSync(`${out}.recording`);
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    await new Promise((r) => setTimeout(r, 500));
    child.kill('SIGINT');
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code, stderr).toBe(EXIT.sigint);
    expect(stderr).toMatch(new RegExp(`interrupted by SIGINT after \\d+ exits: the log is incomplete, kept as ${out}\\n`));
    expect(readLogFile(out).complete).toBe(false);
  }, 60_000);

  test('an incomplete kvm log: verify and replay stop at the last exit it vouches for, and say so (123)', async () => {
    const full = join(dir, 'storm.rrlog');
    const recorded = await rrkit('record', STORM, '-o', full);
    expect(recorded.code, recorded.stderr).toBe(0);
    const log = readLogFile(full);
    // What a crash leaves: sealed chunks, no stop record, no trailer; here, the first half.
    const records = log.records.filter((r) => r.type !== 'machine-stop').slice(0, Math.floor(log.records.length / 2));
    const cut = join(dir, 'storm-cut.rrlog');
    native().logWrite(cut, { header: log.header, records, close: false, maxChunkBytes: 4096 });
    const [last] = lastLandmarks(records, 1, 'exits');
    for (const command of ['verify', 'replay']) {
      const run = await rrkit(command, cut);
      expect(run.code, run.stderr).toBe(EXIT.incomplete);
      expect(run.stderr).toMatch(new RegExp(`replayed as far as it vouches, vcpu 0 @ ${last} exits`));
    }
  }, 120_000);
});
