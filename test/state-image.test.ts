/**
 * State images on emu (docs/replication.md, "State images"): a replay writes one at a
 * checkpoint cut (`rrkit replay --save-image`), another process restores it into a fresh
 * machine and replays the rest of the log (`--from-image`). Every case compares with the
 * uninterrupted replay and the recording: the restored run's console output is exactly
 * the rest of the stream from the image's offset, and the exit code and final state hash
 * are the recording's — on 1, 2 and 4 vCPUs, through timer interrupts, wfi, the clock, host
 * entropy, CREW edges and LR/SC (console-echo is too short to hold a checkpoint). Bad
 * images (damaged, truncated, not an image, of another guest, of another recording) get
 * one line and exit 120; a refused destination exits 119, and nothing is overwritten.
 */
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, test } from 'vitest';
import { readLogFile } from '../src/analysis/log-reader.js';
import { builtGuestPath, WORKLOADS } from '../src/guests/catalog.js';
import { record } from '../src/session/record.js';
import { SERIAL_OFF } from '../src/smp/serial-options.js';
import { logFolder } from './kept-logs.js';

const execFileAsync = promisify(execFile);
const rrkit = join(__dirname, '..', 'bin', 'rrkit');
const CONSOLE_INPUT = Buffer.from('hello\nstate image\nend\n');
/** Small, so that even the shortest workloads have a few cuts to take an image at. */
const CHECKPOINT_INTERVAL = 20_000n;
/**
 * Recorded in parallel CREW throughout: an image is taken only at a cut outside serialized
 * mode, and producer-consumer.small serializes within its first ~35 000 instructions (a page
 * far above the threshold decides before its window ends: docs/crew.md, "Serialized mode").
 */
const CREW_ONLY = new Set(['producer-consumer']);

interface Run {
  code: number;
  stdout: Buffer;
  stderr: string;
}

async function rrkitRun(args: string[]): Promise<Run> {
  try {
    const { stdout, stderr } = await execFileAsync(rrkit, args, { encoding: 'buffer', maxBuffer: 64 << 20, timeout: 120_000 });
    return { code: 0, stdout, stderr: stderr.toString() };
  } catch (error) {
    const e = error as { code: unknown; stdout: Buffer; stderr: Buffer };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout, stderr: e.stderr.toString() };
  }
}

async function recordWorkload(name: string, vcpus: number, logPath: string) {
  const workload = WORKLOADS.find((w) => w.name === name)!;
  const recorded = await record({
    elf: builtGuestPath(name, 'rv64', true),
    logPath,
    vcpus,
    capture: true,
    checkpointInterval: CHECKPOINT_INTERVAL,
    ...(CREW_ONLY.has(name) ? { serialize: SERIAL_OFF } : {}),
    input: workload.needsConsoleInput ? { kind: 'bytes', data: CONSOLE_INPUT } : { kind: 'none' },
    timeoutSeconds: 60,
  });
  expect(recorded.exitCode, name).toBe(0);
  return recorded;
}

function checkpointsIn(logPath: string): number {
  return readLogFile(logPath).records.filter((r) => r.type === 'checkpoint').length;
}

/** The field after `label` in a line of `stderr`, e.g. "final state 0123…". */
function field(stderr: string, pattern: RegExp): string {
  const match = pattern.exec(stderr);
  expect(match, stderr).not.toBeNull();
  return match![1]!;
}

describe('a state image restored in another process replays the rest of the log exactly', () => {
  const cases: [string, number][] = [
    ['timer-ticks', 1],
    ['clock-poll', 1],
    ['entropy-mix', 1],
    ['lock-counter', 2],
    ['timer-ticks', 2],
    ['producer-consumer', 4],
    ['atomic-histogram', 4],
  ];
  test.each(cases)('%s on %i vCPU(s)', async (name, vcpus) => {
    const dir = logFolder(`image-${name}-${vcpus}`);
    const logPath = join(dir, 'run.rrlog');
    const imagePath = join(dir, 'cut.rrimg');
    const recorded = await recordWorkload(name, vcpus, logPath);
    const checkpoints = checkpointsIn(logPath);
    expect(checkpoints, 'the recording needs checkpoints to cut at').toBeGreaterThanOrEqual(2);
    const at = Math.max(1, Math.floor(checkpoints / 2));

    // The uninterrupted replay, which writes the image as it passes the cut.
    const whole = await rrkitRun(['replay', logPath, '--save-image', imagePath, '--image-at', String(at)]);
    expect(whole.code, whole.stderr).toBe(0);
    expect(whole.stdout.equals(recorded.console)).toBe(true);
    const taken = Number(field(whole.stderr, /state image at checkpoint (\d+) /));
    expect(taken).toBeGreaterThanOrEqual(at);
    const offset = Number(field(whole.stderr, /written to .*console output from byte (\d+)/));
    const recordedState = recorded.stateHash.toString(16).padStart(16, '0');
    expect(field(whole.stderr, /final state ([0-9a-f]{16})/)).toBe(recordedState);
    expect(Number(field(whole.stderr, /(\d+) checkpoints compared/))).toBe(checkpoints);

    // A fresh process, a fresh machine: from the image's cut to the end.
    const rest = await rrkitRun(['replay', logPath, '--from-image', imagePath]);
    expect(rest.code, rest.stderr).toBe(0);
    expect(field(rest.stderr, /resumed from the state image at checkpoint (\d+)/)).toBe(String(taken));
    expect(Number(field(rest.stderr, /console output from byte (\d+)/))).toBe(offset);
    expect(field(rest.stderr, /final state ([0-9a-f]{16})/)).toBe(recordedState);
    expect(rest.stdout.equals(recorded.console.subarray(offset)), `${rest.stdout.length} bytes from ${offset}`).toBe(true);
    // It started at the cut, not at reset: it compared only the checkpoints after the image's.
    expect(Number(field(rest.stderr, /(\d+) checkpoints compared/))).toBe(checkpoints - taken);
    expect(field(rest.stderr, /resumed from the state image at checkpoint \d+ \(vcpu 0 @ (\d+)/)).not.toBe('0');
  }, 240_000);
});

describe('bad state images: one line, exit 120 (a refused destination 119), nothing lost', () => {
  test('damaged, truncated, not an image, another guest, another recording, a bad destination', async () => {
    const dir = logFolder('image-bad');
    // entropy-mix: each recording mixes other host entropy into its memory.
    const logPath = join(dir, 'mix.rrlog');
    const imagePath = join(dir, 'mix.rrimg');
    await recordWorkload('entropy-mix', 1, logPath);
    const at = String(Math.max(2, Math.floor(checkpointsIn(logPath) / 2)));
    const saved = await rrkitRun(['replay', logPath, '--save-image', imagePath, '--image-at', at]);
    expect(saved.code, saved.stderr).toBe(0);
    const image = readFileSync(imagePath);
    const log = readFileSync(logPath);

    // Refused before the machine runs: nothing written; or (another recording) where the
    // replay reads the log, before the guest ran an instruction.
    const refused = async (file: string, pattern: RegExp, against = logPath) => {
      const r = await rrkitRun(['replay', against, '--from-image', file]);
      expect(r.code, r.stderr).toBe(120);
      const lines = r.stderr.split('\n').filter((l) => l !== '');
      expect(lines, r.stderr).toHaveLength(1);
      expect(lines[0]).toMatch(pattern);
      return r;
    };
    const refusedBeforeRun = async (file: string, pattern: RegExp, against = logPath) => {
      expect((await refused(file, pattern, against)).stdout.length).toBe(0);
    };
    const flipped = Buffer.from(image);
    flipped[Math.floor(flipped.length / 2)]! ^= 0x10;
    writeFileSync(join(dir, 'flipped.rrimg'), flipped);
    await refusedBeforeRun(join(dir, 'flipped.rrimg'), /state image .*flipped\.rrimg: damaged: CRC32C stored/);
    writeFileSync(join(dir, 'short.rrimg'), image.subarray(0, image.length - 100));
    await refusedBeforeRun(join(dir, 'short.rrimg'), /short\.rrimg: truncated/);
    await refusedBeforeRun(logPath, /not an rrkit state image/);
    await refusedBeforeRun(join(dir, 'missing.rrimg'), /missing\.rrimg: cannot open it/);

    // Another guest's log with this image.
    const otherLog = join(dir, 'echo.rrlog');
    await recordWorkload('console-echo', 1, otherLog);
    await refusedBeforeRun(imagePath, /is of another guest/, otherLog);
    // The same guest recorded again: its cuts fall on the same counts, its state there differs.
    const againLog = join(dir, 'mix-again.rrlog');
    await recordWorkload('entropy-mix', 1, againLog);
    await refused(imagePath, /the image was not taken from this log/, againLog);

    // Destinations: never the log, an existing file only with --force; no cut that late.
    const onLog = await rrkitRun(['replay', logPath, '--save-image', logPath]);
    expect(onLog.code).toBe(119);
    expect(onLog.stderr).toMatch(/names an input of this replay/);
    expect(readFileSync(logPath).equals(log)).toBe(true);
    const exists = await rrkitRun(['replay', logPath, '--save-image', imagePath]);
    expect(exists.code).toBe(119);
    expect(exists.stderr).toMatch(/exists; give --force/);
    expect(readFileSync(imagePath).equals(image)).toBe(true);
    const tooLate = await rrkitRun(['replay', logPath, '--save-image', join(dir, 'late.rrimg'), '--image-at', '100000']);
    expect(tooLate.code).toBe(119);
    expect(tooLate.stderr).toMatch(/no state image written: the replay met no checkpoint at or after the 100000th/);
    const noSave = await rrkitRun(['replay', logPath, '--image-at', '3']);
    expect(noSave.code).toBe(119);
    expect(noSave.stderr).toMatch(/--image-at .* needs --save-image/);
  }, 240_000);
});
