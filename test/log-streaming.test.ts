/**
 * The log at scale, through the CLI: `rrkit replay --follow` replaying a log chunk by chunk
 * while a recording started at the same time writes it, and `rrkit replay --then-run`
 * continuing a recording exactly where its log ends (a stopped recorder, and a crashed one
 * whose last chunks are lost) — uniprocessor and SMP — with the output of
 * record-then-continue equal to a plain run's and the continued log verifying on its own.
 */
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { readLogFile, scanLogFile } from '../src/analysis/log-reader.js';
import { EXIT } from '../src/cli/exit-status.js';
import { native } from '../src/native.js';
import { logFolder } from './kept-logs.js';
import { runRrkit, type Ran } from './rrkit-cli.js';


const rrkit = (...args: string[]): Promise<Ran> => runRrkit(args, 120_000);

/** The byte offsets where each chunk of a log file starts, and where the chunks end. */
function chunkBounds(bytes: Buffer): number[] {
  const bounds: number[] = [];
  let at = 16 + bytes.readUInt32LE(12) + 4;
  while (at + 28 <= bytes.length && bytes.readUInt32LE(at) === 0x4b4e4843) {
    bounds.push(at);
    at += 28 + bytes.readUInt32LE(at + 8);
  }
  bounds.push(at);
  return bounds;
}

describe('rrkit replay --follow', () => {
  test('replays a log chunk by chunk while a recording started at the same time writes it, to the same end', async () => {
    const dir = logFolder('follow');
    const log = join(dir, 'run.rrlog');
    // The follower starts first: it waits for the file, then for each sealed chunk.
    const follower = rrkit('replay', '--follow', '--follow-timeout', '30', log);
    const sizes: number[] = [];
    const sampler = setInterval(() => {
      try {
        // record -o writes LOG.recording and renames it to LOG at the end
        sizes.push(statSync(existsSync(`${log}.recording`) ? `${log}.recording` : log).size);
      } catch {
        // not created yet
      }
    }, 100);
    const recorder = await rrkit('record', 'clock-poll', '-o', log);
    const followed = await follower;
    clearInterval(sampler);
    expect(recorder.code).toBe(0);
    expect(followed.code, followed.stderr).toBe(0);
    expect(followed.stdout).toBe(recorder.stdout);
    expect(followed.stdout).toMatch(/^clock-poll: ok lines=400/m);
    // The log grew while the follower ran: it was read as it was written, in many chunks.
    expect(new Set(sizes).size).toBeGreaterThan(3);
    const outline = scanLogFile(log, () => {});
    expect(outline.complete).toBe(true);
    expect(outline.chunks.length).toBeGreaterThan(3);
  }, 120_000);

  test('a log that stops growing without its trailer ends the follow as an incomplete log', async () => {
    const dir = logFolder('follow-idle');
    const log = join(dir, 'cut.rrlog');
    await rrkit('record', 'clock-poll', '-o', join(dir, 'full.rrlog'));
    const full = readFileSync(join(dir, 'full.rrlog'));
    writeFileSync(log, full.subarray(0, chunkBounds(full)[3]));
    const followed = await rrkit('replay', '--follow', '--follow-timeout', '1', log);
    expect(followed.code, followed.stderr).toBe(EXIT.incomplete);
    expect(followed.stderr).toMatch(/the log is incomplete .* replayed as far as it vouches, vcpu 0 @ \d+ instructions, and stopped there \(its 3 sealed chunks\)/);
  }, 60_000);
});

describe('rrkit replay --then-run', () => {
  const cases: { name: string; guest: string; vcpus: number }[] = [
    { name: 'one vCPU', guest: 'clock-poll', vcpus: 1 },
    { name: 'two vCPUs (CREW)', guest: 'clock-poll', vcpus: 2 },
    { name: 'two vCPUs sharing a lock (CREW)', guest: 'lock-counter', vcpus: 2 },
  ];
  for (const c of cases) {
    test(`${c.name}: a stopped and a crashed recording continue live exactly where their logs end; output as a plain run's`, async () => {
      const dir = logFolder(`then-run-${c.vcpus}`);
      const vcpus = String(c.vcpus);
      const plain = await rrkit('run', c.guest, '--vcpus', vcpus);
      expect(plain.code).toBe(0);

      // A recorder stopped part way (the timeout): its log holds every record so far, no
      // trailer. (Should the guest finish first on a fast host, its log without the stop
      // record and the trailer is the same thing.)
      const recordedLog = join(dir, 'recorded.rrlog');
      const recorded = await rrkit('record', c.guest, '--vcpus', vcpus, '--checkpoint-every', '1000000', '--timeout', '0.4', '-o', recordedLog);
      expect([0, 124]).toContain(recorded.code);
      const { header, records } = readLogFile(recordedLog);
      const stopped = join(dir, 'stopped.rrlog');
      native().logWrite(stopped, { header, records: records.filter((r) => r.type !== 'machine-stop'), close: false, maxChunkBytes: 65536 });
      // A crashed recorder: only the first half of what it logged reached the file.
      const crashed = join(dir, 'crashed.rrlog');
      native().logWrite(crashed, { header, records: records.slice(0, Math.floor(records.length / 2)), close: false, maxChunkBytes: 4096 });
      expect(records.length).toBeGreaterThan(10);

      for (const log of [stopped, crashed]) {
        const next = `${log}.next.rrlog`;
        const continued = await rrkit('replay', log, '--then-run', '-o', next);
        expect(continued.code, continued.stderr).toBe(0);
        expect(continued.stderr).toMatch(/then ran live from vcpu 0 @ \d+/);
        expect(continued.stdout).toBe(plain.stdout);
        // The continued log holds the replayed records and the live run's: it verifies from reset.
        const verified = await rrkit('verify', next, '--json');
        expect(verified.code, verified.stdout + verified.stderr).toBe(0);
        expect(JSON.parse(verified.stdout).verdict).toBe('identical');
      }
    }, 180_000);
  }

  test('without -o it runs live and records nothing; -o without --then-run is a usage error', async () => {
    const dir = logFolder('then-run-plain');
    const log = join(dir, 'stopped.rrlog');
    await rrkit('record', 'clock-poll', '--timeout', '0.3', '-o', log);
    const plain = await rrkit('run', 'clock-poll');
    const continued = await rrkit('replay', log, '--then-run');
    expect(continued.code).toBe(0);
    expect(continued.stdout).toBe(plain.stdout);
    expect(continued.stderr).not.toMatch(/recording on/);
    const usage = await rrkit('replay', log, '-o', join(dir, 'x.rrlog'));
    expect(usage.code).toBe(EXIT.usage);
    expect(usage.stderr.trim()).toBe('rrkit: -o/--output records the live run: it needs --then-run');
  }, 60_000);

  test('a complete log: the replay ends with the guest, nothing goes live, the next log is its copy', async () => {
    const dir = logFolder('then-run-complete');
    const log = join(dir, 'run.rrlog');
    // Whether lock-counter's harts serialize depends on host timing: either way.
    const recorded = await rrkit('record', 'lock-counter.small', '--vcpus', '2', '-o', log);
    const next = join(dir, 'next.rrlog');
    const replayed = await rrkit('replay', log, '--then-run', '-o', next);
    expect(replayed.code).toBe(0);
    expect(replayed.stdout).toBe(recorded.stdout);
    expect(replayed.stderr).not.toMatch(/ran live/);
    expect(scanLogFile(next, () => {}).complete).toBe(true);
    expect((await rrkit('verify', next)).code).toBe(0);
  }, 60_000);
});
