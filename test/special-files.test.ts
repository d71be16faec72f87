/**
 * Every command that opens a file, fed what a careless or hostile user might give it:
 * (as a log, a guest image, console input, a disk image, the log to write, or named by a
 * crafted log's header) endless devices (/dev/zero, /dev/urandom), an empty one (/dev/null), a FIFO nobody writes,
 * a directory, a huge sparse file, and a log whose header names one of those as its guest
 * image (a crafted log alone must not exhaust memory). Each run must end in bounded time
 * and memory with one clear line and the status the README's table gives it — never grow,
 * block, or crash. Also numeric options far out of range.
 *
 * RRKIT_TEST_COMMAND runs these against another rrkit (e.g. an older build) to see which
 * cases it fails.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { readLogFile } from '../src/analysis/log-reader.js';
import { EXIT } from '../src/cli/exit-status.js';
import { native } from '../src/native.js';
import { RRKIT, runBounded, type BoundedRun } from './bounded-run.js';

const COMMAND = process.env['RRKIT_TEST_COMMAND'] || RRKIT;
/** Far more than any of these needs (a second or two of Node's start-up on a loaded machine). */
const TIME_LIMIT_MS = 30_000;
/** rrkit itself takes ~100 MiB; reading an endless file whole would take gigabytes. */
const MEMORY_LIMIT_MIB = 400;
/** Far beyond a guest image's 512 MiB and a disk image's 4 GiB; a log of zeros, read a chunk at a time. */
const SPARSE_BYTES = 64 * 2 ** 30;

const dir = mkdtempSync(join(tmpdir(), 'rrkit-special-'));
const fifo = join(dir, 'fifo');
const sparse = join(dir, 'sparse');
const good = join(dir, 'good.rrlog');

/** The files under test, by name. */
const SPECIAL: Record<string, string> = {
  '/dev/zero': '/dev/zero',
  '/dev/urandom': '/dev/urandom',
  '/dev/null': '/dev/null',
  'a FIFO': fifo,
  'a directory': dir,
  'a 64 GiB sparse file': sparse,
};

let outputs = 0;
const freshOutput = (): string => join(dir, `out-${++outputs}`);

async function rrkit(...args: string[]): Promise<BoundedRun> {
  return runBounded(args, { timeoutMs: TIME_LIMIT_MS, cwd: dir }, COMMAND);
}

function expectBounded(run: BoundedRun, what: string): void {
  expect(run.timedOut, `${what}: still running after ${TIME_LIMIT_MS / 1000} s (${run.stderr})`).toBe(false);
  expect(run.maxRssMiB, `${what}: ${run.maxRssMiB.toFixed(0)} MiB`).toBeLessThan(MEMORY_LIMIT_MIB);
}

function expectRefused(run: BoundedRun, what: string, statuses: readonly number[]): void {
  expectBounded(run, what);
  expect(statuses, `${what}: exit ${run.code}: ${run.stderr}`).toContain(run.code);
  const lines = run.stderr.trim().split('\n');
  expect(lines, `${what}: ${run.stderr}`).toHaveLength(1);
  expect(lines[0], what).toMatch(/^rrkit: /);
  expect(lines[0], what).not.toMatch(/Error:|at .*\.ts:\d+|Aborted|Segmentation/);
}

/** A copy of the good log whose header names `imagePath` as the guest (CRC correct: a crafted log). */
function craftedLog(imagePath: string, name: string): string {
  const log = readLogFile(good);
  const path = join(dir, `crafted-${name.replace(/\W+/g, '-')}.rrlog`);
  native().logWrite(path, { header: { ...log.header, imagePath }, records: log.records, close: true, maxChunkBytes: 65536 });
  return path;
}

beforeAll(async () => {
  const made = spawnSync('mkfifo', [fifo]);
  expect(made.status, String(made.stderr)).toBe(0);
  writeFileSync(sparse, '');
  truncateSync(sparse, SPARSE_BYTES);
  const recorded = await runBounded(['record', 'entropy-mix.small', '-o', good], { cwd: dir });
  expect(recorded.code, recorded.stderr).toBe(0);
}, 120_000);

// Damaged (120) for what is there but is no log or image; bad usage (119) for what is not a
// regular file at all.
const REFUSED = [EXIT.usage, EXIT.damaged];

describe.concurrent.each(Object.entries(SPECIAL))('%s', (name, path) => {
  test.each([
    ['verify', () => ['verify', path]],
    ['replay', () => ['replay', path]],
    ['log stats', () => ['log', 'stats', path]],
    ['log dump', () => ['log', 'dump', path]],
    ['log dump --json', () => ['log', 'dump', path, '--json']],
  ])(`as the log: %s refuses it`, async (what, args) => {
    expectRefused(await rrkit(...args()), `${what} ${name}`, REFUSED);
  });

  test.each([
    ['run', () => ['run', path]],
    ['record', () => ['record', path, '-o', freshOutput()]],
    ['verify --guest', () => ['verify', good, '--guest', path]],
    ['replay --guest', () => ['replay', good, '--guest', path]],
    ['guest build', () => ['guest', 'build', path, '--arch', 'rv64', '-o', `${freshOutput()}.elf`]],
  ])('as the guest image: %s refuses it', async (what, args) => {
    expectRefused(await rrkit(...args()), `${what} ${name}`, REFUSED);
  });

  test('as the guest image for log stats --guest: ignored (it only names variables), bounded', async () => {
    const run = await rrkit('log', 'stats', good, '--guest', path);
    expectBounded(run, `log stats --guest ${name}`);
    expect(run.code, run.stderr).toBe(0);
  });

  // A regular file, however large, is console input like any other: streamed (the guest
  // reads it as long as it likes, here until the timeout), never loaded.
  test.each([
    ['run', () => ['run', 'console-echo.small', '--input', path, '--timeout', '3']],
    ['record', () => ['record', 'console-echo.small', '--input', path, '--timeout', '3', '-o', freshOutput()]],
  ])(`as console input: %s ${path === sparse ? 'streams it until the timeout' : 'refuses it'}`, async (what, args) => {
    expectRefused(await rrkit(...args()), `${what} --input ${name}`, [path === sparse ? EXIT.timeout : EXIT.usage]);
  });

  // Checked before any engine runs (so this needs no /dev/kvm): the kvm board's disk.
  test.each([
    ['run', () => ['run', 'disk-checksum.small', '--disk', path]],
    ['record', () => ['record', 'disk-checksum.small', '--disk', path, '-o', freshOutput()]],
  ])('as the disk image: %s refuses it', async (what, args) => {
    expectRefused(await rrkit(...args()), `${what} --disk ${name}`, REFUSED);
  });

  test('as the log to write: record -o refuses it, and leaves it as it was', async () => {
    const run = await rrkit('record', 'entropy-mix.small', '-o', path);
    expectRefused(run, `record -o ${name}`, [EXIT.usage]);
    if (path === sparse) expect(statSync(path).size).toBe(SPARSE_BYTES); // not replaced
  });

  test('named as the guest image in a crafted log (its CRC correct): verify, replay and log stats stay bounded', async () => {
    const crafted = craftedLog(path, name);
    for (const args of [['verify', crafted], ['replay', crafted]]) {
      expectRefused(await rrkit(...args), `${args[0]} of a log naming ${name}`, REFUSED);
    }
    const stats = await rrkit('log', 'stats', crafted);
    expectBounded(stats, `log stats of a log naming ${name}`);
    expect(stats.code, stats.stderr).toBe(0);
  });
});

describe.concurrent('huge and malformed numbers', () => {
  test.each([
    [['run', 'matmul.small', '--vcpus', '1e9'], /--vcpus must be an integer from 1 to 64, not '1e9'/],
    [['run', 'matmul.small', '--vcpus', 'abc'], /--vcpus must be an integer from 1 to 64, not 'abc'/],
    [['run', 'matmul.small', '--vcpus', ''], /--vcpus needs a value: an integer from 1 to 64/],
    [['run', 'matmul.small', '--ram', '1e12'], /--ram must be an integer from 1 to 4096 \(MiB\), not '1e12'/],
    [['run', 'matmul.small', '--timeout', '1e300'], /--timeout must be a number from 0 to 31536000/],
    [['run', 'matmul.small', '--timeout', '-1'], /--timeout must be a number from 0 to 31536000/],
    [['record', 'matmul.small', '-o', 'x.rrlog', '--checkpoint-every', '1e30'], /--checkpoint-every must be an integer/],
    [['record', 'matmul.small', '-o', 'x.rrlog', '--checkpoint-every', '1'], /--checkpoint-every must be 0 \(none\) or at least 10000 on emu, not 1/],
    [['record', 'matmul.small', '-o', 'x.rrlog', '--vcpus', '2', '--crew-granularity', '1e15'], /--crew-granularity: the CREW granularity must be a power of two/],
    [['record', 'matmul.small', '-o', 'x.rrlog', '--vcpus', '2', '--crew-hold', '1e15'], /--crew-hold must be an integer from 0 to 100000000/],
    [['run', 'matmul.small', '--threads', '0'], /--threads must be an integer from 1 to 1024, not '0'/],
    [['run', 'matmul.small', '--threads', '1e9'], /--threads must be an integer from 1 to 1024, not '1e9'/],
    [['replay', 'x.rrlog', '--threads', 'two'], /--threads must be an integer from 1 to 1024, not 'two'/],
    [['record', 'matmul.small', '-o', 'x.rrlog', '--vcpus', '2', '--serialize-above', '-5'], /--serialize-above must be an integer/],
    [['record', 'matmul.small', '-o', 'x.rrlog', '--vcpus', '2', '--serialize-above', '2e6'], /--serialize-above: serialized mode: enterPerMillion must be from 0 to 1000000/],
    [['record', 'matmul.small', '-o', 'x.rrlog', '--vcpus', '2', '--turn-quantum', '10'], /--turn-quantum: serialized mode: quantum must be from 1000 to 1000000000/],
    [['record', 'matmul.small', '-o', 'x.rrlog', '--vcpus', '2', '--turn-quantum', 'x'], /--turn-quantum must be an integer/],
    [['demo', '--vcpus', 'many'], /--vcpus must be an integer from 1 to 64, not 'many'/],
  ] as const)('%j: bad usage, one line', async (args, message) => {
    const run = await rrkit(...args);
    expectRefused(run, args.join(' '), [EXIT.usage]);
    expect(run.stderr).toMatch(message);
  });
});
