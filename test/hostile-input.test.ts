/**
 * The defects of issue 10, each as a user met it (one test each fails on the code before
 * the fix): nothing of the user's destroyed by `record -o` (an existing log, the guest, the
 * input), two recordings to one path, overlapping ELF segments, `log dump` of a large log in
 * bounded memory, replay of an interrupted log that stops where the log ends, a short timer
 * period that starved `main`, SIGINT/SIGTERM during record, and the messages and exit
 * statuses of the README's table. Special files and huge numbers: special-files.test.ts.
 */
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, linkSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { crc32c } from '../src/analysis/crc32c.js';
import { readLogFile } from '../src/analysis/log-reader.js';
import { EXIT } from '../src/cli/exit-status.js';
import { builtGuestPath } from '../src/guests/catalog.js';
import { native } from '../src/native.js';
import { RRKIT, runBounded, type BoundedRun } from './bounded-run.js';
import { buildIsaPrograms } from './isa-build.js';
import { lastLandmarks } from './last-landmarks.js';

const COMMAND = process.env['RRKIT_TEST_COMMAND'] || RRKIT;
const dir = mkdtempSync(join(tmpdir(), 'rrkit-hostile-'));

function rrkit(args: readonly string[], timeoutMs = 60_000): Promise<BoundedRun> {
  return runBounded(args, { timeoutMs, cwd: dir }, COMMAND);
}

function oneLine(run: BoundedRun): string {
  const lines = run.stderr.trim().split('\n');
  expect(lines, run.stderr).toHaveLength(1);
  expect(run.stderr).not.toMatch(/Error:|at .*\.ts:\d+|Aborted|Segmentation/);
  return lines[0]!;
}

/** Builds `source` (C against rrkit.h) into DIR/NAME.elf with the rrkit command. */
function buildGuest(name: string, source: string): string {
  const c = join(dir, `${name}.c`);
  writeFileSync(c, source);
  const elf = join(dir, `${name}.elf`);
  const built = spawnSync(RRKIT, ['guest', 'build', c, '--arch', 'rv64', '-o', elf], { encoding: 'utf8' });
  expect(built.status, built.stderr).toBe(0);
  return elf;
}

const LOOP_C = '#include <rrkit.h>\nint main(void){ volatile unsigned long x=0; printf("looping\\n"); for(;;) x++; }\n';
/** issue 10's ts.c: a 400 ns timer whose handler main waits on. */
const TIMER_400NS_C =
  '#include <rrkit.h>\nstatic volatile unsigned long n; static void h(void){ n++; }\n' +
  'int main(void){ timer_start(400, h); while(n<200){} return 0; }\n';

let loop: string;
let goodLog: Buffer;

beforeAll(async () => {
  loop = buildGuest('loop', LOOP_C);
  const path = join(dir, 'good.rrlog');
  const recorded = await rrkit(['record', 'entropy-mix.small', '-o', path]);
  expect(recorded.code, recorded.stderr).toBe(0);
  goodLog = readFileSync(path);
}, 120_000);

function freshCopyOfGoodLog(name: string): string {
  const path = join(dir, name);
  writeFileSync(path, goodLog);
  return path;
}

describe('defect 4: -o never destroys what is there', () => {
  test('an existing log: refused without --force, and kept whole when a --force recording then fails (the fragment beside it)', async () => {
    const out = freshCopyOfGoodLog('kept.rrlog');
    const refused = await rrkit(['record', loop, '-o', out, '--timeout', '1']);
    expect(refused.code).toBe(EXIT.usage);
    expect(oneLine(refused)).toMatch(/kept\.rrlog: exists; give --force to replace it/);
    expect(readFileSync(out).equals(goodLog)).toBe(true);

    const failed = await rrkit(['record', loop, '-o', out, '--timeout', '1', '--force']);
    expect(failed.code, failed.stderr).toBe(EXIT.timeout);
    expect(failed.stderr).toMatch(new RegExp(`the log is incomplete, kept as ${out}\\.incomplete \\(.*kept\\.rrlog exists and was left as it was\\)`));
    expect(failed.stderr).toMatch(/the timeout of 1 s/); // not "1.000000 s"
    expect(readFileSync(out).equals(goodLog)).toBe(true);
    expect(readLogFile(`${out}.incomplete`).complete).toBe(false);
    expect(existsSync(`${out}.recording`)).toBe(false);
  }, 60_000);

  test('--force and a complete recording: the old log is replaced, and the command says so', async () => {
    const out = freshCopyOfGoodLog('replaced.rrlog');
    const run = await rrkit(['record', 'matmul.small', '-o', out, '--force']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/replaced the previous/);
    expect(readLogFile(out).header.imagePath).toMatch(/matmul\.small\.elf$/);
  }, 60_000);

  test('-o naming the guest image being recorded: refused, even with --force, and the image untouched', async () => {
    const elf = join(dir, 'self.elf');
    copyFileSync(builtGuestPath('entropy-mix', 'rv64', true), elf);
    const before = readFileSync(elf);
    for (const force of [[], ['--force']]) {
      const run = await rrkit(['record', elf, '-o', elf, ...force]);
      expect(run.code).toBe(EXIT.usage);
      expect(oneLine(run)).toMatch(/self\.elf: is the guest image, which this recording reads/);
    }
    expect(readFileSync(elf).equals(before)).toBe(true);
  }, 60_000);

  test('-o naming the console input (by its path or by a hard link to it): refused, and the input untouched', async () => {
    const input = join(dir, 'in.txt');
    writeFileSync(input, 'hello\nend\n');
    const link = join(dir, 'in-link.txt');
    linkSync(input, link);
    for (const out of [input, link]) {
      const run = await rrkit(['record', 'console-echo.small', '--input', input, '-o', out, '--force']);
      expect(run.code).toBe(EXIT.usage);
      expect(oneLine(run)).toMatch(/is the console input \(--input\), which this recording reads/);
    }
    expect(readFileSync(input, 'utf8')).toBe('hello\nend\n');
  }, 60_000);

  test('a failed recording with nothing at -o leaves its incomplete log there (where the user looks)', async () => {
    const out = join(dir, 'fresh-timeout.rrlog');
    const run = await rrkit(['record', loop, '-o', out, '--timeout', '1']);
    expect(run.code).toBe(EXIT.timeout);
    expect(run.stderr).toMatch(new RegExp(`the log is incomplete, kept as ${out}\\n`));
    expect(readLogFile(out).complete).toBe(false);
  }, 60_000);
});

describe('defect 4, replay --then-run -o: the log it records on is put as record -o puts one', () => {
  test('-o naming the log being replayed is refused even with --force, an existing file without it; both untouched', async () => {
    const log = freshCopyOfGoodLog('then-run-source.rrlog');
    const before = readFileSync(log);
    const self = await rrkit(['replay', log, '--then-run', '-o', log, '--force']);
    expect(self.code).toBe(EXIT.usage);
    expect(oneLine(self)).toMatch(/then-run-source\.rrlog: is the log being replayed, which this recording reads/);
    const other = freshCopyOfGoodLog('then-run-existing.rrlog');
    const existing = await rrkit(['replay', log, '--then-run', '-o', other]);
    expect(existing.code).toBe(EXIT.usage);
    expect(oneLine(existing)).toMatch(/then-run-existing\.rrlog: exists; give --force to replace it/);
    expect(readFileSync(log).equals(before)).toBe(true);
    expect(readFileSync(other).equals(goodLog)).toBe(true);
  }, 60_000);
});

describe('defect 5: two recordings to one path', () => {
  test('the second is refused while the first runs; the file is the first one\'s log, whole', async () => {
    const out = join(dir, 'twice.rrlog');
    // Long enough that the second starts (node's start-up on a loaded machine) while it runs.
    const first = rrkit(['record', loop, '-o', out, '--timeout', '20']);
    // Until the first has created its partial log.
    for (let i = 0; i < 200 && !existsSync(`${out}.recording`); i++) await new Promise((r) => setTimeout(r, 50));
    const second = await rrkit(['record', 'entropy-mix.small', '-o', out]);
    expect(second.code).toBe(EXIT.usage);
    expect(oneLine(second)).toMatch(/twice\.rrlog\.recording exists: another recording to it is running/);
    const done = await first;
    expect(done.code, done.stderr).toBe(EXIT.timeout);
    const log = readLogFile(out);
    expect(log.header.imagePath).toBe(loop);
    expect(log.chunks.length).toBeGreaterThan(0);
  }, 90_000);

  test('two --force recordings one after the other: each leaves a whole log, the last one\'s', async () => {
    const out = join(dir, 'again.rrlog');
    const runs = await Promise.all([
      rrkit(['record', 'entropy-mix.small', '-o', out, '--force']),
      rrkit(['record', 'matmul.small', '-o', out, '--force']),
    ]);
    // Started together: one may be refused (the other's partial log exists); never both succeed on a torn file.
    expect(runs.map((r) => r.code).sort()).toContain(0);
    for (const r of runs) expect([0, EXIT.usage]).toContain(r.code);
    const log = readLogFile(out);
    expect(log.complete).toBe(true);
    const verify = await rrkit(['verify', out]);
    expect(verify.code, verify.stderr).toBe(0);
  }, 120_000);
});

/** A copy of a built guest whose second program header (GNU_STACK) becomes a PT_LOAD over the first. */
function overlappingElf(): string {
  const elf = Buffer.from(readFileSync(builtGuestPath('entropy-mix', 'rv64', true)));
  const phoff = Number(elf.readBigUInt64LE(32));
  const phentsize = elf.readUInt16LE(54);
  expect(elf.readUInt16LE(56)).toBeGreaterThanOrEqual(2);
  const first = phoff;
  const second = phoff + phentsize;
  expect(elf.readUInt32LE(first)).toBe(1); // PT_LOAD
  elf.writeUInt32LE(1, second); // p_type PT_LOAD
  elf.writeBigUInt64LE(elf.readBigUInt64LE(first + 8), second + 8); // p_offset: the code's bytes
  elf.writeBigUInt64LE(0x8000_0100n, second + 16); // p_vaddr
  elf.writeBigUInt64LE(0x8000_0100n, second + 24); // p_paddr: inside the first segment
  elf.writeBigUInt64LE(64n, second + 32); // p_filesz
  elf.writeBigUInt64LE(64n, second + 40); // p_memsz
  const path = join(dir, 'overlap.elf');
  writeFileSync(path, elf);
  return path;
}

describe('defect 9: overlapping PT_LOAD segments', () => {
  test('refused with one line naming both segments, as a bad image, by run and record', async () => {
    const elf = overlappingElf();
    const run = await rrkit(['run', elf], 20_000);
    expect(run.timedOut).toBe(false);
    expect(run.code).toBe(EXIT.damaged);
    expect(oneLine(run)).toMatch(/overlap\.elf: segments 0 \(0x80000000\.\.0x[0-9a-f]+\) and 1 \(0x80000100\.\.0x80000140\) overlap/);
    const record = await rrkit(['record', elf, '-o', join(dir, 'overlap.rrlog')], 20_000);
    expect(record.code).toBe(EXIT.damaged);
    expect(existsSync(join(dir, 'overlap.rrlog'))).toBe(false);
    expect(existsSync(join(dir, 'overlap.rrlog.recording'))).toBe(false);
  }, 60_000);
});

/**
 * A log of `chunks` copies of one chunk of `records` input records (each chunk decodes on its
 * own, so copies with their sequence numbers and CRCs rewritten are a valid log).
 */
function bigLog(path: string, chunks: number, records: number): void {
  const small = join(dir, 'one-chunk.rrlog');
  const header = readLogFile(join(dir, 'good.rrlog')).header;
  const inputs = Array.from({ length: records }, (_, i) => ({ type: 'input', vcpu: 0, count: BigInt(i * 7), kind: 1, value: BigInt(i) * 1000003n }));
  native().logWrite(small, { header, records: inputs, close: false, maxChunkBytes: 4 << 20 });
  const bytes = readFileSync(small);
  const log = readLogFile(small);
  expect(log.chunks).toHaveLength(1);
  const chunkAt = log.chunks[0]!.offset;
  const head = bytes.subarray(0, chunkAt);
  const chunk = bytes.subarray(chunkAt);
  const parts: Buffer[] = [head];
  for (let i = 0; i < chunks; i++) {
    const copy = Buffer.from(chunk);
    copy.writeUInt32LE(i, 4);
    copy.writeUInt32LE(crc32c(copy.subarray(28), crc32c(copy.subarray(0, 24))), 24);
    parts.push(copy);
  }
  const trailer = Buffer.alloc(28);
  trailer.writeUInt32LE(0x524c5254, 0);
  trailer.writeUInt32LE(chunks, 4);
  trailer.writeBigUInt64LE(BigInt(chunks * records), 8);
  trailer.writeUInt32LE(crc32c(trailer.subarray(0, 24)), 24);
  parts.push(trailer);
  writeFileSync(path, Buffer.concat(parts));
}

describe('defect 2: log dump of a large log', () => {
  test('streams: 2 million records dumped as text and as JSON in bounded memory', async () => {
    const path = join(dir, 'big.rrlog');
    bigLog(path, 40, 50_000);
    expect(readLogFile(path).complete).toBe(true);
    for (const json of [false, true]) {
      const run = await runBounded(['log', 'dump', path, ...(json ? ['--json'] : [])], { timeoutMs: 240_000, cwd: dir, keepStdoutBytes: 4096 }, COMMAND);
      expect(run.timedOut, `dump ${json ? '--json ' : ''}took longer than 240 s`).toBe(false);
      expect(run.code, run.stderr).toBe(0);
      // Before: every record as an object, the whole output as one string (an 18 MB log took 2.3 GB).
      expect(run.maxRssMiB, `log dump ${json ? '--json' : ''}: ${run.maxRssMiB.toFixed(0)} MiB`).toBeLessThan(400);
      expect(run.stdout).toMatch(json ? /^\{"header":\{"engine":"emu"/ : /^# emu, 1 vcpus/);
    }
  }, 600_000);
});

describe('defect 3: replay of an interrupted log', () => {
  test('stops at the last landmark the log vouches for and says how far it got (verify and replay)', async () => {
    const out = join(dir, 'interrupted.rrlog');
    const recorded = await rrkit(['record', loop, '-o', out, '--timeout', '2', '--checkpoint-every', '10000000']);
    expect(recorded.code, recorded.stderr).toBe(EXIT.timeout);
    const log = readLogFile(out);
    expect(log.complete).toBe(false);
    const [last] = lastLandmarks(log.records, 1);
    expect(last).toBeGreaterThan(0n);
    for (const command of ['verify', 'replay']) {
      const run = await rrkit([command, out], 60_000);
      expect(run.timedOut, `${command} ran past the log's end`).toBe(false);
      expect(run.code, run.stderr).toBe(EXIT.incomplete);
      expect(run.stderr).toMatch(new RegExp(`replayed as far as it vouches, vcpu 0 @ ${last} instructions`));
    }
  }, 120_000);
});

describe('defect 8: a timer period shorter than the handler', () => {
  test('main still progresses: issue 10\'s ts.c (400 ns) returns in run and record, and the recording verifies', async () => {
    const elf = buildGuest('timer-400ns', TIMER_400NS_C);
    const run = await rrkit(['run', elf], 30_000);
    expect(run.timedOut, 'main never got to run').toBe(false);
    expect(run.code, run.stderr).toBe(0);
    const out = join(dir, 'timer-400ns.rrlog');
    const record = await rrkit(['record', elf, '-o', out], 30_000);
    expect(record.timedOut, 'main never got to run').toBe(false);
    expect(record.code, record.stderr).toBe(0);
    const verify = await rrkit(['verify', out], 30_000);
    expect(verify.code, verify.stderr).toBe(0);
  }, 120_000);

  test('a guest that never stops its 1 ns timer: recorded with --timeout, the command warns that interrupts flood the log', async () => {
    const elf = buildGuest(
      'timer-storm',
      '#include <rrkit.h>\nstatic volatile unsigned long n; static void h(void){ n++; }\n' +
        'int main(void){ timer_start(1, h); for(;;){} }\n',
    );
    const out = join(dir, 'storm.rrlog');
    const record = await rrkit(['record', elf, '-o', out, '--timeout', '8'], 60_000);
    expect(record.code, record.stderr).toBe(EXIT.timeout);
    expect(record.stderr).toMatch(/warning: the guest took \d+ interrupts in [\d.]+ s \(\d+ per second\), each one logged/);
  }, 60_000);
});

describe('SIGINT and SIGTERM during record', () => {
  test.each([
    ['SIGINT', EXIT.sigint],
    ['SIGTERM', EXIT.sigterm],
  ] as const)('%s: the open chunk sealed (every checkpoint taken is in the log), the log kept and said to be incomplete', async (signal, status) => {
    const out = join(dir, `signal-${signal}.rrlog`);
    const interval = 10_000_000;
    const child = spawn(COMMAND, ['record', loop, '-o', out, '--checkpoint-every', String(interval)], { cwd: dir });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    // Once the guest runs (it prints "looping" first), give it time for a few checkpoints.
    await new Promise<void>((resolve) => child.stdout.on('data', () => resolve()));
    await new Promise((r) => setTimeout(r, 1500));
    child.kill(signal);
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code, stderr).toBe(status);
    const said = /interrupted by (SIG\w+) after (\d+) instructions: the log is incomplete, kept as (.*)\n/.exec(stderr);
    expect(said, stderr).not.toBeNull();
    expect(said![1]).toBe(signal);
    expect(said![3]).toBe(out);
    const log = readLogFile(out);
    expect(log.complete).toBe(false);
    // Sealed: nothing taken before the stop is missing (before, up to a second of records was lost).
    const checkpoints = log.records.filter((r) => r.type === 'checkpoint').length;
    expect(checkpoints).toBe(Math.floor(Number(said![2]) / interval));
    const verify = await rrkit(['verify', out]);
    expect(verify.code, verify.stderr).toBe(EXIT.incomplete);
  }, 60_000);
});

describe('verify of a log still being written', () => {
  test('reports the checkpoints its replay compared, not those the file has grown to since', async () => {
    const out = join(dir, 'growing.rrlog');
    const interval = 10_000_000;
    // The replay reads the log as it reaches it, so it may follow the recording to its end: short.
    const recorder = spawn(COMMAND, ['record', loop, '-o', out, '--checkpoint-every', String(interval), '--timeout', '8'], { cwd: dir });
    const recorded = new Promise((resolve) => recorder.on('close', resolve)); // it may end before the verify does
    const writing = (): string => (existsSync(`${out}.recording`) ? `${out}.recording` : out);
    const checkpointsIn = (path: string): number => {
      try {
        return readLogFile(path).records.filter((r) => r.type === 'checkpoint').length;
      } catch {
        return 0; // not there yet, or a frame half written
      }
    };
    for (let i = 0; i < 300 && checkpointsIn(writing()) < 2; i++) await new Promise((r) => setTimeout(r, 100));
    let run = await rrkit(['verify', writing()]);
    // The writer may be between the two halves of a frame: a truncated file, read again.
    for (let i = 0; i < 3 && /truncated/.test(run.stderr); i++) run = await rrkit(['verify', writing()]);
    recorder.kill('SIGINT');
    await recorded;
    expect(run.code, run.stderr).toBe(EXIT.incomplete);
    const said = /vcpu 0 @ (\d+) instructions, and checked (\d+) checkpoints/.exec(run.stderr);
    expect(said, run.stderr).not.toBeNull();
    expect(Number(said![2])).toBe(Math.floor(Number(said![1]) / interval));
  }, 120_000);
});

describe('messages', () => {
  test('--input naming a directory says so (not "no such file")', async () => {
    const run = await rrkit(['run', 'console-echo.small', '--input', dir]);
    expect(run.code).toBe(EXIT.usage);
    expect(oneLine(run)).toMatch(/--input .*: is a directory, not a regular file/);
  });

  test('a path with control bytes is printed escaped', async () => {
    const name = join(dir, 'evil\x1b[2Jname\x07.elf');
    writeFileSync(name, 'not an elf at all');
    const run = await rrkit(['run', name]);
    expect(run.code).toBe(EXIT.damaged);
    const line = oneLine(run);
    expect(line).toContain('evil\\x1b[2Jname\\x07.elf');
    expect(line).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f]/);
  });

  test.each([
    ['vcpus', { vcpus: 100 }, /the log's header says 100 vCPUs; the emu engine has at most 64/],
    ['ramMib', { ramMib: 999_999 }, /the log's header says 999999 MiB of RAM; the emu engine takes 1 to 4096/],
    ['engine', { engine: 'vax' }, /the log names the engine 'vax'/],
  ])('a header %s out of range says it came from the log', async (_field, change, message) => {
    const log = readLogFile(join(dir, 'good.rrlog'));
    const path = join(dir, `header-${_field}.rrlog`);
    native().logWrite(path, { header: { ...log.header, ...change }, records: [], close: true, maxChunkBytes: 65536 });
    const run = await rrkit(['verify', path]);
    expect(run.code).toBe(EXIT.damaged);
    expect(oneLine(run)).toMatch(message);
  });

  test('verify --json on a damaged chunk has the code, chunk and offset (as for a damaged header)', async () => {
    const path = freshCopyOfGoodLog('bad-chunk.rrlog');
    const bytes = readFileSync(path);
    const log = readLogFile(path);
    const at = log.chunks[0]!.offset + 30;
    bytes[at] = bytes[at]! ^ 0x40;
    writeFileSync(path, bytes);
    const run = await rrkit(['verify', path, '--json']);
    expect(run.code).toBe(EXIT.damaged);
    expect(JSON.parse(run.stdout)).toMatchObject({ verdict: 'error', code: 'bad-crc', chunk: 0, offset: log.chunks[0]!.offset + 24 });
  });

  test('a guest whose own exit code is one of rrkit\'s statuses: that code, and a note saying it is the guest\'s', async () => {
    const elf = buildGuest('exit-125', '#include <rrkit.h>\nint main(void){ exit(125); }\n');
    const run = await rrkit(['run', elf]);
    expect(run.code).toBe(125);
    expect(run.stderr).toMatch(/note: exit status 125 is the guest's own code \(rrkit also uses 125 for a divergence\)/);
  });

  test('log stats and dump exit with the same status as verify for a damaged log, and for bad usage', async () => {
    const missing = join(dir, 'nothing-here.rrlog');
    for (const args of [['log', 'stats', missing], ['log', 'dump', missing], ['verify', missing], ['replay', missing]]) {
      const run = await rrkit(args);
      expect(run.code, args.join(' ')).toBe(EXIT.usage);
    }
    const notLog = join(dir, 'not-a-log.rrlog');
    writeFileSync(notLog, 'hello');
    for (const args of [['log', 'stats', notLog], ['log', 'dump', notLog], ['verify', notLog], ['replay', notLog]]) {
      const run = await rrkit(args);
      expect(run.code, args.join(' ')).toBe(EXIT.damaged);
    }
  }, 60_000);

  test('an unknown workload or a bad ELF is not a guest fault; a guest fault is not a bad ELF', async () => {
    const unknown = await rrkit(['run', 'no-such-workload']);
    expect(unknown.code).toBe(EXIT.usage);
    const notElf = join(dir, 'text.elf');
    writeFileSync(notElf, 'text');
    const bad = await rrkit(['run', notElf]);
    expect(bad.code).toBe(EXIT.damaged);
    // No trap handler (the guest runtime has one, and exits with its own code).
    const { 'bad-illegal': fault } = await buildIsaPrograms(['bad-illegal']);
    const faulted = await rrkit(['run', fault!]);
    expect(faulted.code, faulted.stderr).toBe(EXIT.guestFault);
  }, 60_000);
});

