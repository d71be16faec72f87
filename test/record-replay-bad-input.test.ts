/**
 * Bad input to replay and verify: each case gives one clear line naming the problem (and,
 * for a damaged log, the chunk and byte offset), the exit status the README's table gives
 * it (src/cli/exit-status.ts), never a crash or a hang. Also the CLI's demo on several
 * vCPUs, and its usage error.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { readLogFile } from '../src/analysis/log-reader.js';
import { builtGuestPath } from '../src/guests/catalog.js';
import { EXIT } from '../src/cli/exit-status.js';
import { native } from '../src/native.js';
import { logFolder } from './kept-logs.js';
import { runRrkit } from './rrkit-cli.js';


const rrkit = (...args: string[]) => runRrkit(args);

/** The one line rrkit printed about the problem. */
function oneLine(stderr: string): string {
  const lines = stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(stderr).not.toMatch(/at .*\.ts:\d+|Error:|Segmentation|Aborted/);
  return lines[0]!;
}

describe('replay and verify refuse bad input', () => {
  let good: Buffer;
  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rrkit-bad-input-'));
    const path = join(dir, 'good.rrlog');
    const result = await rrkit('record', 'entropy-mix.small', '-o', path, '--checkpoint-every', '200000');
    expect(result.code).toBe(0);
    good = readFileSync(path);
    expect(readLogFile(path).chunks.length).toBeGreaterThan(0);
    rmSync(dir, { recursive: true });
  });

  const cases: { name: string; make: (good: Buffer) => Buffer; expect: RegExp }[] = [
    { name: 'an empty log', make: () => Buffer.alloc(0), expect: /empty/ },
    { name: 'not a log at all', make: () => Buffer.from('#!/bin/sh\necho hello\n'), expect: /bad-magic.*not an rrkit log/ },
    { name: 'a log cut inside a chunk', make: (g) => g.subarray(0, 300), expect: /truncated in chunk 0 at byte 300/ },
    {
      name: 'a flipped bit in a chunk',
      make: (g) => {
        const b = Buffer.from(g);
        b[2000] = b[2000]! ^ 0x10;
        return b;
      },
      expect: /bad-crc in chunk 0 at byte \d+/,
    },
    {
      name: 'a newer format version',
      make: (g) => {
        const b = Buffer.from(g);
        b.writeUInt16LE(9, 8);
        return b;
      },
      expect: /bad-version in the header at byte 8: format version 9/,
    },
  ];

  for (const c of cases) {
    test(`${c.name}: one clear line, exit 120 (damaged) from verify and replay`, async () => {
      const dir = logFolder(`bad-${c.name}`);
      const path = join(dir, 'bad.rrlog');
      writeFileSync(path, c.make(good));
      const verify = await rrkit('verify', path);
      expect(verify.code).toBe(EXIT.damaged);
      expect(oneLine(verify.stderr)).toMatch(c.expect);
      const replay = await rrkit('replay', path);
      expect(replay.code).toBe(EXIT.damaged);
      expect(oneLine(replay.stderr)).toMatch(c.expect);
    });
  }

  test('a missing log: bad usage', async () => {
    const verify = await rrkit('verify', '/nonexistent/run.rrlog');
    expect(verify.code).toBe(EXIT.usage);
    expect(oneLine(verify.stderr)).toMatch(/log \/nonexistent\/run.rrlog: no such file/);
  });

  test('the wrong guest image', async () => {
    const dir = logFolder('bad-image');
    const path = join(dir, 'good.rrlog');
    writeFileSync(path, good);
    const verify = await rrkit('verify', path, '--guest', builtGuestPath('matmul', 'rv64', true));
    expect(verify.code).toBe(EXIT.damaged);
    expect(oneLine(verify.stderr)).toMatch(/is not the guest image this log was recorded from/);
  });

  test('the recorded image is gone', async () => {
    const dir = logFolder('gone-image');
    const elf = join(dir, 'guest.elf');
    copyFileSync(builtGuestPath('entropy-mix', 'rv64', true), elf);
    const path = join(dir, 'run.rrlog');
    expect((await rrkit('record', elf, '-o', path)).code).toBe(0);
    writeFileSync(elf, 'changed');
    const changed = await rrkit('verify', path);
    expect(changed.code).toBe(EXIT.damaged);
    expect(oneLine(changed.stderr)).toMatch(/not the guest image/);
    rmSync(elf);
    const gone = await rrkit('verify', path);
    expect(gone.code).toBe(EXIT.usage);
    expect(oneLine(gone.stderr)).toMatch(/is gone; give it with --guest/);
  });

  test('a guest that reads a device the log has no value for', async () => {
    const dir = logFolder('no-value');
    const source = join(dir, 'good.rrlog');
    writeFileSync(source, good);
    const log = readLogFile(source);
    const path = join(dir, 'no-inputs.rrlog');
    const records = log.records.filter((r) => r.type !== 'input');
    native().logWrite(path, { header: log.header, records, close: true, maxChunkBytes: 65536 });
    const verify = await rrkit('verify', path);
    expect(verify.code).toBe(EXIT.diverged);
    expect(oneLine(verify.stderr)).toMatch(/replay diverged at vcpu 0 @ instruction \d+: .*input/);
  });

  test('DMA writes in an emu log: refused where the replay reads them (emu has no device that writes guest memory)', async () => {
    const dir = logFolder('dma-on-emu');
    const source = join(dir, 'good.rrlog');
    writeFileSync(source, good);
    const log = readLogFile(source);
    const path = join(dir, 'dma.rrlog');
    const dma = { type: 'dma-write', vcpu: 0, count: 1234n, address: 0x8000_1000n, data: new Uint8Array([1, 2, 3]) };
    native().logWrite(path, { header: log.header, records: [dma, ...log.records], close: true, maxChunkBytes: 65536 });
    const verify = await rrkit('verify', path);
    expect(verify.code).toBe(EXIT.damaged);
    expect(oneLine(verify.stderr)).toMatch(/the log holds a DMA write \(vcpu 0 @ 1234\), which the emu engine has no device for/);
    const replay = await rrkit('replay', path);
    expect(replay.code).toBe(EXIT.damaged);
    expect(oneLine(replay.stderr)).toMatch(/DMA write/);
  });

  test('an incomplete log (no trailer): replays as far as its sealed chunks and says so', async () => {
    const dir = logFolder('incomplete');
    const source = join(dir, 'good.rrlog');
    writeFileSync(source, good);
    const log = readLogFile(source);
    const path = join(dir, 'incomplete.rrlog');
    native().logWrite(path, { header: log.header, records: log.records, close: false, maxChunkBytes: 65536 });
    expect(readLogFile(path).complete).toBe(false);
    const verify = await rrkit('verify', path);
    expect(verify.code).toBe(EXIT.incomplete);
    expect(oneLine(verify.stderr)).toMatch(/incomplete/);
  });
});

describe('the CLI on several vCPUs', () => {
  test('rrkit demo --vcpus 2 records a race with CREW and verifies it; --vcpus 65 is a usage error', async () => {
    const demo = await rrkit('demo', '--workload', 'racy-counter', '--small', '--vcpus', '2');
    expect(demo.code, demo.stderr).toBe(0);
    expect(demo.stderr).toMatch(/2 vCPUs \(CREW\)/);
    expect(demo.stderr).toMatch(/[\d,]+ CREW page transfers/);
    expect(demo.stderr).toMatch(/verify {12}identical/);
    const bad = await rrkit('demo', '--vcpus', '65');
    expect(bad.code).toBe(EXIT.usage);
    expect(oneLine(bad.stderr)).toMatch(/--vcpus must be an integer from 1 to 64, not '65'/);
  });
});

describe('disk options that are wrong before any engine runs', () => {
  test('--disk-shared without --disk, a missing disk image, and --disk on emu: one line each', async () => {
    const dir = logFolder('disk-options');
    const noDisk = await rrkit('record', 'disk-checksum.small', '--disk-shared', '-o', join(dir, 'a.rrlog'));
    expect(noDisk.code).toBe(EXIT.usage);
    expect(oneLine(noDisk.stderr)).toMatch(/--disk-shared needs --disk FILE/);
    const missing = await rrkit('record', 'disk-checksum.small', '--disk', join(dir, 'missing.img'), '-o', join(dir, 'b.rrlog'));
    expect(missing.code).toBe(EXIT.usage);
    expect(oneLine(missing.stderr)).toMatch(/--disk .*missing\.img: no such file/);
    const onEmu = await rrkit('run', '--engine', 'emu', '--disk', join(dir, 'missing.img'), 'matmul.small');
    expect(onEmu.code).toBe(EXIT.usage);
    expect(oneLine(onEmu.stderr)).toMatch(/--disk: only the kvm engine's board has a block device/);
  });
});
