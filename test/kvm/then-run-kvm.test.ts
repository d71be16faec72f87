/**
 * `rrkit replay --then-run [-o NEXT]` on the kvm engine (1, 2 and 4 vCPUs): a recording cut short —
 * interrupted by SIGINT, or crashed with its last chunks lost — replays to the end of its
 * log and goes on live from exactly there: host clock (going on from the last value the
 * guest read), timer interrupts and the disk from the world. NEXT holds the replayed
 * records and then the live run's, and replays on its own: same console output, exit code
 * and final state hash as the then-run. Several vCPUs go live together, each on reaching its
 * last landmark in the log (docs/kvm-smp.md, "Going live"), and NEXT holds that cut. Needs a
 * working /dev/kvm (never skips).
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { readLogFile, scanLogFile } from '../../src/analysis/log-reader.js';
import type { LogRecord } from '../../src/analysis/log-records.js';
import { EXIT } from '../../src/cli/exit-status.js';
import { kvmAvailability } from '../../src/engines/kvm.js';
import { builtGuestPath, GUESTS_DIR, REPO_ROOT } from '../../src/guests/catalog.js';
import { writeDiskImage } from '../../src/guests/disk-image.js';
import { native } from '../../src/native.js';
import { record } from '../../src/session/record.js';
import { replay, type ReplayOutcome } from '../../src/session/replay.js';
import { logFolder } from '../kept-logs.js';
import { edgeIntoLaterStop, lastLandmarks } from '../last-landmarks.js';

const RRKIT = join(REPO_ROOT, 'bin', 'rrkit');
/** Hang guards only: in the QEMU sandbox on a loaded host these take minutes. */
const HANG_MS = 400_000;

beforeAll(() => {
  const kvm = kvmAvailability();
  expect(kvm.available, kvm.reason).toBe(true);
});

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** bin/rrkit, sent SIGINT `interruptAfterMs` after the guest's first output when given. */
function rrkit(args: string[], interruptAfterMs?: number): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(RRKIT, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timer: NodeJS.Timeout | undefined;
    child.stdout.on('data', (b: Buffer) => {
      // The guest runs (and the recorder handles SIGINT) once it prints.
      if (stdout === '' && interruptAfterMs !== undefined) timer = setTimeout(() => child.kill('SIGINT'), interruptAfterMs);
      stdout += b.toString();
    });
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

function describeOutcome(outcome: ReplayOutcome): string {
  return outcome.kind === 'diverged' ? JSON.stringify(outcome.report, (_k, v) => (typeof v === 'bigint' ? `${v}` : v)) : outcome.result.error;
}

function asText(records: readonly LogRecord[]): string {
  return JSON.stringify(records, (_key, value: unknown) =>
    typeof value === 'bigint' ? `${value}n` : value instanceof Uint8Array ? Buffer.from(value).toString('hex') : value,
  );
}

/** A log holding `records` and no trailer, written in small chunks: a recorder that died after sealing them. */
function writeCut(path: string, from: string, records: readonly LogRecord[]): void {
  const { header } = readLogFile(from);
  native().logWrite(path, { header, records: [...records], close: false, maxChunkBytes: 4096 });
}

/**
 * Continues `log` live into NEXT, then replays NEXT on its own: the continuation's output is
 * `expected` (when given), NEXT is complete and replays with the same output, exit code and
 * final state hash. Returns the then-run's outcome.
 */
async function continueAndCheck(
  log: string,
  expected: { console?: Buffer; exitCode?: number },
  disk?: string,
  vcpus = 1,
): Promise<Extract<ReplayOutcome, { kind: 'went-live' }>> {
  const next = `${log}.next.rrlog`;
  const live = await replay({ logPath: log, thenRun: { logPath: next }, capture: true, timeoutSeconds: 120, disk });
  expect(live.kind, describeOutcome(live)).toBe('went-live');
  if (live.kind !== 'went-live') throw new Error('unreachable');
  if (expected.console !== undefined) expect(live.result.console.toString()).toBe(expected.console.toString());
  if (expected.exitCode !== undefined) expect(live.exitCode).toBe(expected.exitCode);
  // Live from the log's last landmark: every record of the log was consumed first.
  expect(live.liveFrom).toEqual(lastLandmarks(readLogFile(log).records, vcpus, 'exits'));
  expect(live.nextLog?.path).toBe(next);
  expect(scanLogFile(next, () => {}).complete).toBe(true);

  const again = await replay({ logPath: next, capture: true, timeoutSeconds: 120, disk });
  expect(again.kind, describeOutcome(again)).toBe('exited');
  expect(again.result.console.equals(live.result.console)).toBe(true);
  expect(again.result.exitCode).toBe(live.result.exitCode);
  expect(again.result.stateHash).toBe(live.result.stateHash);
  expect(again.result.vcpus.map((v) => v.landmark)).toEqual(live.result.vcpus.map((v) => v.landmark));
  // NEXT begins with the replayed log's records, in order (compared as text: DMA bytes are
  // megabytes, which a deep equality walks byte by byte).
  const cut = readLogFile(log).records;
  const continued = readLogFile(next).records;
  expect(asText(continued.slice(0, cut.length))).toBe(asText(cut));
  expect(continued.length).toBeGreaterThan(cut.length);
  // Several vCPUs: the cut where they went live comes next, each at its last landmark in the log.
  if (vcpus > 1) {
    const at = continued[cut.length]!;
    expect(at.type).toBe('checkpoint');
    if (at.type === 'checkpoint') expect(at.vcpus.map((v) => v.count)).toEqual(live.liveFrom);
  }
  return live;
}

describe('kvm replay --then-run (one vCPU)', () => {
  test('clock-poll interrupted by SIGINT, and crashed with half its log lost: each continues live where its log ends, output as a plain run\'s', async () => {
    const dir = logFolder('kvm-then-run-clock');
    // What a plain run prints: the guest checks that its clock never went back and that every
    // period passed, so the live clock must go on from the last logged value, however fast the replay ran.
    const plain = Array.from({ length: 400 }, (_, i) => `line ${i + 1}\n`).join('') + 'clock-poll: ok lines=400 backwards=0\n';

    // An interrupted recording keeps its sealed, incomplete log (130).
    const interrupted = join(dir, 'interrupted.rrlog');
    const recorded = await rrkit(['record', '--engine', 'kvm', 'clock-poll', '-o', interrupted], 500);
    expect(recorded.code, recorded.stderr).toBe(EXIT.sigint);
    const { records } = readLogFile(interrupted);
    expect(scanLogFile(interrupted, () => {}).complete).toBe(false);
    expect(records.length).toBeGreaterThan(100);
    await continueAndCheck(interrupted, { console: Buffer.from(plain), exitCode: 0 });

    // A crashed recorder, continued through the command line, which says where it went live;
    // verify replays the next log against the final state the continuation recorded.
    const crashed = join(dir, 'crashed.rrlog');
    writeCut(crashed, interrupted, records.slice(0, Math.floor(records.length / 2)));
    const next = join(dir, 'cli-next.rrlog');
    const cli = await rrkit(['replay', crashed, '--then-run', '-o', next]);
    expect(cli.code, cli.stderr).toBe(0);
    expect(cli.stdout).toBe(plain);
    const from = lastLandmarks(readLogFile(crashed).records, 1, 'exits')[0];
    expect(cli.stderr).toMatch(
      new RegExp(`^rrkit: replayed the log's \\d+ chunks to its end, then ran live from vcpu 0 @ ${from}, recording on into .*cli-next\\.rrlog; exit code 0$`, 'm'),
    );
    const verified = await rrkit(['verify', next]);
    expect(verified.code, verified.stderr).toBe(0);
    expect(verified.stderr).toMatch(/^rrkit: identical: .*exit code 0 and final state [0-9a-f]{16}$/m);
  }, HANG_MS);

  test('timer interrupts go on live; a complete log ends with the guest and nothing goes live', async () => {
    const dir = logFolder('kvm-then-run-timer');
    const log = join(dir, 'storm.rrlog');
    // A 50 kHz timer while the guest reads the clock: an interrupt at nearly every exit.
    const elf = join(GUESTS_DIR, 'build', 'x86_64', 'kvm-tests', 'interrupt-storm.elf');
    const full = await record({ elf, logPath: log, capture: true, checkpointInterval: 50n, timeoutSeconds: 120 });
    const { records } = readLogFile(log);
    const interrupts = (rs: readonly LogRecord[]): number => rs.filter((r) => r.type === 'delayed-interrupt').length;
    expect(interrupts(records)).toBeGreaterThan(100);
    // Cut halfway: the rest of the ticks come from the timer the guest programmed in the replayed part.
    const half = Math.floor(records.length / 2);
    const cut = join(dir, 'cut.rrlog');
    writeCut(cut, log, records.slice(0, half));
    const live = await continueAndCheck(cut, { exitCode: 0 });
    expect(live.result.console.toString()).toMatch(/^interrupt-storm: ok ticks=\d+ /m);
    expect(interrupts(readLogFile(`${cut}.next.rrlog`).records.slice(half))).toBeGreaterThan(10);

    const complete = await replay({ logPath: log, thenRun: { logPath: join(dir, 'copy.rrlog') }, capture: true, timeoutSeconds: 120 });
    expect(complete.kind).toBe('exited');
    expect(complete.result.console.equals(full.console)).toBe(true);
    expect(complete.result.stateHash).toBe(full.stateHash);
    expect(scanLogFile(join(dir, 'copy.rrlog'), () => {}).complete).toBe(true);
  }, HANG_MS);

  for (const shared of [false, true]) {
    test(`the disk${shared ? ' (--disk-shared)' : ''} keeps working across the switch, a read in flight included`, async () => {
      const dir = logFolder(`kvm-then-run-disk${shared ? '-shared' : ''}`);
      const disk = join(dir, 'disk.img');
      await writeDiskImage(disk, 2048); // 1 MiB: 16 reads of 64 KiB
      const elf = builtGuestPath('disk-checksum', 'x86_64', true);
      const log = join(dir, 'disk.rrlog');
      // A checkpoint every few exits puts records between a read's start and its completion.
      const full = await record({ elf, logPath: log, capture: true, checkpointInterval: 4n, timeoutSeconds: 120, disk, diskShared: shared });
      expect(full.console.toString()).toMatch(/^disk-checksum: ok /m);
      const { records } = readLogFile(log);
      const dmaType = shared ? 'disk-read' : 'dma-write';
      const dmas = records.flatMap((r, i) => (r.type === dmaType ? [i] : []));
      expect(dmas.length).toBe(17); // the trailer sector, then 16 reads of 64 KiB
      // Cut just before a completion: the last record before it lies while the read is in
      // flight (the guest polls the status register, checkpoints fall between the polls).
      const cut = join(dir, 'cut.rrlog');
      writeCut(cut, log, records.slice(0, dmas[5]!));
      await continueAndCheck(cut, { console: full.console, exitCode: 0 }, disk);
      // Going live reads the disk, so the image is needed even when the log holds the bytes: one line without it.
      await expect(replay({ logPath: cut, thenRun: {}, disk: join(dir, 'nowhere.img') })).rejects.toThrow(/nowhere\.img/);
    }, HANG_MS);
  }

  test('a log that lost only its stop record: the guest\'s exit at the last landmark goes live, and the live world records the stop', async () => {
    const dir = logFolder('kvm-then-run-stop-lost');
    const elf = builtGuestPath('matmul', 'x86_64', true);
    const first = await record({ elf, logPath: join(dir, 'first.rrlog'), capture: true, checkpointInterval: 0n, timeoutSeconds: 120 });
    // A compute workload's exits are the same in every run: a checkpoint at the exit that writes the exit register.
    const exits = first.vcpus[0]!.landmark;
    const log = join(dir, 'run.rrlog');
    const full = await record({ elf, logPath: log, capture: true, checkpointInterval: exits, timeoutSeconds: 120 });
    expect(full.vcpus[0]!.landmark).toBe(exits);
    const { records } = readLogFile(log);
    expect(records.at(-1)!.type).toBe('machine-stop');
    expect(records.at(-2)!.type).toBe('checkpoint');
    const cut = join(dir, 'cut.rrlog');
    writeCut(cut, log, records.slice(0, -1));
    const live = await continueAndCheck(cut, { console: full.console, exitCode: 0 });
    expect(live.liveFrom).toEqual([exits]);
    expect(live.result.stateHash).toBe(full.stateHash);
  }, HANG_MS);
});

describe.each([2, 4])('kvm replay --then-run on %i vCPUs', (vcpus) => {
  test('clock-poll interrupted by SIGINT, and its log cut at a random record: each goes live where its log ends, output as a plain run\'s', async () => {
    const dir = logFolder(`kvm-then-run-smp-${vcpus}`);
    const plain = Array.from({ length: 400 }, (_, i) => `line ${i + 1}\n`).join('') + 'clock-poll: ok lines=400 backwards=0\n';
    const interrupted = join(dir, 'interrupted.rrlog');
    const recorded = await rrkit(['record', '--engine', 'kvm', '--vcpus', String(vcpus), 'clock-poll', '-o', interrupted], 500);
    expect(recorded.code, recorded.stderr).toBe(EXIT.sigint);
    const { records } = readLogFile(interrupted);
    expect(scanLogFile(interrupted, () => {}).complete).toBe(false);
    expect(records.some((r) => r.type === 'crew-fault')).toBe(true);
    await continueAndCheck(interrupted, { console: Buffer.from(plain), exitCode: 0 }, undefined, vcpus);

    // A crashed recorder: whatever the cut falls in (a stop between its edges and its fault
    // record, an exit between its records), every vCPU goes live on reaching its last landmark.
    const at = Math.floor(records.length * (0.2 + 0.6 * Math.random()));
    const crashed = join(dir, `crashed-${at}.rrlog`);
    writeCut(crashed, interrupted, records.slice(0, at));
    await continueAndCheck(crashed, { console: Buffer.from(plain), exitCode: 0 }, undefined, vcpus);
  }, HANG_MS);

  test('a log that ends inside a stop, at the edge into it: live from there, the stop made again live', async () => {
    const dir = logFolder(`kvm-then-run-smp-stop-${vcpus}`);
    const log = join(dir, 'lock.rrlog');
    const full = await record({ elf: builtGuestPath('lock-counter', 'x86_64', true), logPath: log, vcpus, capture: true, timeoutSeconds: 120 });
    expect(full.outcome).toBe('exited');
    const { records } = readLogFile(log);
    const inside = edgeIntoLaterStop(records, 1 / 2);
    expect(inside).toBeGreaterThan(0);
    const cut = join(dir, 'cut.rrlog');
    writeCut(cut, log, records.slice(0, inside + 1));
    // lock-counter's result does not depend on timing: the continuation prints the recording's line.
    await continueAndCheck(cut, { console: full.console, exitCode: 0 }, undefined, vcpus);
  }, HANG_MS);
});
