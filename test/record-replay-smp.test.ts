/**
 * SMP record/replay on the emu engine with CREW: every workload recorded and replayed on
 * 2, 4 and 8 vCPUs, on the host's cores and on one thread, and on 16 and 64 (console output, exit code, final state hash and per-hart instruction counts
 * identical; checkpoints compared during replay; replayed again under a shuffled host
 * schedule, which must change nothing), racy-counter's recordings differing while
 * each replay reproduces its own, and damaged transfer edges caught, never a silent success
 * or a hang. Runs sequentially: the machine has 2 cores.
 */
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { readLogFile } from '../src/analysis/log-reader.js';
import { logFileStats } from '../src/analysis/log-stats.js';
import type { LogRecord } from '../src/analysis/log-records.js';
import { builtGuestPath, WORKLOADS } from '../src/guests/catalog.js';
import { native } from '../src/native.js';
import { record } from '../src/session/record.js';
import { replay } from '../src/session/replay.js';
import { logFolder } from './kept-logs.js';
import { lastLandmarks } from './last-landmarks.js';

const CONSOLE_INPUT = Buffer.from('hello\nsmp\nend\n');
const CHECKPOINT_INTERVAL = 250_000n;
const RUN_TIMEOUT_SECONDS = 60;
/**
 * What the issues ask for: 2, 4 and 8 vCPUs on the default pool (the host's cores), the same
 * on one thread (M:N with every vCPU sharing it), and machines of 16 and 64 vCPUs.
 */
const VCPU_COUNTS = [2, 4, 8];
const MACHINES: { vcpus: number; threads?: number }[] = [
  { vcpus: 2 },
  { vcpus: 4 },
  { vcpus: 8 },
  { vcpus: 2, threads: 1 },
  { vcpus: 4, threads: 1 },
  { vcpus: 8, threads: 1 },
  { vcpus: 16 },
  { vcpus: 64 },
];

type Transfer = Extract<LogRecord, { type: 'crew-transfer' }>;

async function recordSmall(name: string, vcpus: number, logPath: string, crewHold?: number, small = true, threads?: number) {
  const workload = WORKLOADS.find((w) => w.name === name)!;
  return record({
    elf: builtGuestPath(name, 'rv64', small),
    logPath,
    vcpus,
    threads,
    crewHold,
    capture: true,
    checkpointInterval: CHECKPOINT_INTERVAL,
    input: workload.needsConsoleInput ? { kind: 'bytes', data: CONSOLE_INPUT } : { kind: 'none' },
    timeoutSeconds: RUN_TIMEOUT_SECONDS,
  });
}

function rewriteLog(from: string, to: string, change: (records: LogRecord[]) => LogRecord[]): void {
  const log = readLogFile(from);
  native().logWrite(to, { header: log.header, records: change([...log.records]), close: log.complete, maxChunkBytes: 64 * 1024 });
}

/**
 * Replays a damaged log: anything but an exact, clean replay is what we want, and it must
 * come from the replay itself (a divergence, or a one-line error), not from the timeout.
 */
const DAMAGED_REPLAY_TIMEOUT_SECONDS = 30;

async function expectCaughtDamage(logPath: string): Promise<string> {
  try {
    const outcome = await replay({ logPath, capture: true, timeoutSeconds: DAMAGED_REPLAY_TIMEOUT_SECONDS });
    expect(outcome.kind).toBe('diverged');
    return outcome.kind === 'diverged' ? outcome.report.what : '';
  } catch (error) {
    const message = (error as Error).message;
    expect(message.split('\n')[0]).toMatch(/CREW log|cannot progress|diverged|out of order/);
    return message;
  }
}

describe('every workload, recorded and replayed on several vCPUs', () => {
  for (const { vcpus, threads } of MACHINES) {
    const on = threads === undefined ? '' : ` on ${threads} thread${threads === 1 ? '' : 's'}`;
    test(`${vcpus} vCPUs${on}: each workload replayed exactly`, async () => {
      const dir = logFolder(`smp-${vcpus}${threads === undefined ? '' : `-t${threads}`}`);
      for (const [index, workload] of WORKLOADS.filter((w) => !w.needsDisk).entries()) {
        const logPath = join(dir, `${workload.name}.rrlog`);
        const recorded = await recordSmall(workload.name, vcpus, logPath, undefined, true, threads);
        expect(recorded.exitCode, workload.name).toBe(0);
        expect(recorded.console.toString()).toMatch(new RegExp(`^${workload.name}: ok`, 'm'));
        const log = readLogFile(logPath);
        expect(log.complete).toBe(true);
        expect(log.header.crewGranularity).toBe(4096);
        // Twice: on the usual host schedule, then on a shuffled one — the log alone fixes the order (docs/crew.md, "Shuffled replays").
        for (const shuffleSeed of [undefined, vcpus * 100 + index + 1]) {
          const replayed = await replay({ logPath, threads, capture: true, timeoutSeconds: RUN_TIMEOUT_SECONDS, shuffleSeed });
          const which = `${workload.name}${shuffleSeed === undefined ? '' : `, shuffled (seed ${shuffleSeed})`}`;
          expect(replayed.kind, `${which}: ${replayed.kind === 'diverged' ? JSON.stringify(replayed.report, (_k, v) => (typeof v === 'bigint' ? String(v) : v)) : ''}`).toBe('exited');
          expect(replayed.result.console.equals(recorded.console)).toBe(true);
          expect(replayed.result.exitCode).toBe(recorded.exitCode);
          expect(replayed.result.stateHash).toBe(recorded.stateHash);
          expect(replayed.result.vcpus.map((v) => v.landmark)).toEqual(recorded.vcpus.map((v) => v.landmark));
        }
      }
    }, 240_000);
  }
});

describe('the CREW hold', () => {
  // The hold moves where yields happen, never whether replay follows: no hold (a holder
  // yields at its next block boundary) and a long one replay exactly too. 2 vCPUs: with
  // hold 0, false-sharing on 4 trades its page at nearly every write (tens of seconds).
  test.each([0, 100_000])('hold %i: sharing-heavy workloads on 2 vCPUs replayed exactly, the hold in the header', async (crewHold) => {
    const dir = logFolder(`smp-hold-${crewHold}`);
    for (const name of ['false-sharing', 'producer-consumer', 'lock-counter']) {
      const logPath = join(dir, `${name}.rrlog`);
      const recorded = await recordSmall(name, 2, logPath, crewHold);
      expect(recorded.exitCode, name).toBe(0);
      expect(JSON.parse(readLogFile(logPath).header.configJson)).toMatchObject({ rrkit: 1, crewHold });
      const replayed = await replay({ logPath, capture: true, timeoutSeconds: RUN_TIMEOUT_SECONDS });
      expect(replayed.kind, name).toBe('exited');
      expect(replayed.result.console.equals(recorded.console)).toBe(true);
      expect(replayed.result.stateHash).toBe(recorded.stateHash);
    }
  }, 120_000);

  test('a hold out of range: a clear error before anything runs', async () => {
    const dir = logFolder('smp-hold-bad');
    await expect(recordSmall('matmul', 2, join(dir, 'bad.rrlog'), -1)).rejects.toThrow(/CREW hold must be from 0/);
    await expect(recordSmall('matmul', 2, join(dir, 'bad.rrlog'), 1.5)).rejects.toThrow(/integer/);
  });
});

describe('log stats of an SMP recording', () => {
  test('the hottest page is named by the variables on it, from the recorded image only', async () => {
    const dir = logFolder('smp-stats');
    const logPath = join(dir, 'false-sharing.rrlog');
    await recordSmall('false-sharing', 2, logPath);
    const stats = logFileStats(logPath);
    expect(stats.crew).not.toBeNull();
    expect(stats.crew!.perMillion).toBeGreaterThan(0);
    expect(Object.keys(stats.crew!.byPair).sort()).toEqual(['0->1', '1->0']);
    // false-sharing's harts write one cache line, `line`: its page is the hottest.
    expect(stats.crew!.hottestPages[0]!.where).toMatch(/^guest 0x[0-9a-f]+: .*\bline\b/);
    // Another program's symbols would mislead: a guest whose hash differs names nothing.
    const other = logFileStats(logPath, builtGuestPath('matmul', 'rv64', true));
    expect(other.crew!.hottestPages[0]!.where).toMatch(/^guest 0x[0-9a-f]+$/);
  });
});

describe('a racy guest', () => {
  test.each(VCPU_COUNTS)('racy-counter on %i vCPUs: recordings differ, each replay reproduces its own', async (vcpus) => {
    const dir = logFolder(`smp-racy-${vcpus}`);
    const outputs = new Set<string>();
    // Until two recordings differ (a few at most), each replayed. Full size (30 million
    // increments, ~0.3 s): the small one's race lasts well under a millisecond, and on a
    // busy host one hart can finish before the other is scheduled, every time.
    for (let i = 0; i < 6 && outputs.size < 2; i++) {
      const logPath = join(dir, `racy-${i}.rrlog`);
      const recorded = await recordSmall('racy-counter', vcpus, logPath, undefined, false);
      outputs.add(recorded.console.toString());
      const replayed = await replay({ logPath, capture: true, timeoutSeconds: RUN_TIMEOUT_SECONDS });
      expect(replayed.kind).toBe('exited');
      expect(replayed.result.console.equals(recorded.console)).toBe(true);
      expect(replayed.result.stateHash).toBe(recorded.stateHash);
    }
    expect(outputs.size).toBeGreaterThan(1);
  }, 120_000);
});

describe('damaged transfer edges', () => {
  async function recordedLog(dir: string): Promise<string> {
    const logPath = join(dir, 'lock.rrlog');
    await recordSmall('lock-counter', 2, logPath);
    return logPath;
  }

  test('edges that form a cycle: a clear one-line error where the replay reads them, no hang', async () => {
    const dir = logFolder('smp-cycle');
    const original = await recordedLog(dir);
    const damaged = join(dir, 'cycle.rrlog');
    rewriteLog(original, damaged, (records) => {
      const at = records.findIndex((r) => r.type === 'crew-transfer');
      const e = records[at] as Transfer;
      // e says from -> to; add to@(to.count+1) -> from@(from.count-1): each waits for the other.
      const back: Transfer = { ...e, from: { vcpu: e.to.vcpu, count: e.to.count + 1n }, to: { vcpu: e.from.vcpu, count: e.from.count - 1n } };
      records.splice(at + 1, 0, back);
      return records;
    });
    expect(await expectCaughtDamage(damaged)).toMatch(/cycle|cannot progress/);
  }, 60_000);

  test('an edge naming a vCPU the machine lacks: a clear error', async () => {
    const dir = logFolder('smp-unknown-vcpu');
    const original = await recordedLog(dir);
    const damaged = join(dir, 'unknown.rrlog');
    // An edge from vcpu 7 on a 2-vCPU machine.
    const log = readLogFile(original);
    const records = [...log.records];
    const at = records.findIndex((r) => r.type === 'crew-transfer');
    const e = records[at] as Transfer;
    records[at] = { ...e, from: { vcpu: 7, count: e.from.count } };
    let message = '';
    try {
      native().logWrite(damaged, { header: log.header, records, close: log.complete, maxChunkBytes: 64 * 1024 });
      message = await expectCaughtDamage(damaged);
    } catch (error) {
      message = (error as Error).message; // the writer refuses it: also a clear error
    }
    expect(message).toMatch(/vcpu|vCPU/);
  }, 60_000);

  test('edges truncated mid-transfer (an edge past a vCPU end): a clear error, no hang', async () => {
    const dir = logFolder('smp-truncated');
    const original = await recordedLog(dir);
    const damaged = join(dir, 'truncated.rrlog');
    rewriteLog(original, damaged, (records) => {
      const at = records.findIndex((r) => r.type === 'crew-transfer');
      const e = records[at] as Transfer;
      const stop = records.find((r) => r.type === 'machine-stop') as Extract<LogRecord, { type: 'machine-stop' }>;
      const end = stop.vcpus[e.from.vcpu]!.count;
      records[at] = { ...e, from: { vcpu: e.from.vcpu, count: end + 1000n } };
      return records;
    });
    expect(await expectCaughtDamage(damaged)).toMatch(/past the end|past a vCPU's end|cannot progress|finished before/);
  }, 60_000);

  test('a vCPU sent to sleep where the recording never slept: a divergence at its wfi, not a hang', async () => {
    const dir = logFolder('smp-wfi');
    const original = await recordedLog(dir);
    const damaged = join(dir, 'wfi.rrlog');
    let parkedAt = 0n;
    rewriteLog(original, damaged, (records) =>
      records.map((r) => {
        if (r.type !== 'machine-stop') return r;
        // vCPU 1 returned from main and sleeps in the runtime's wfi at its final count (or,
        // if hart 0 stopped the machine first, a few instructions before it); claim it ran
        // on, and nothing logged will wake it.
        parkedAt = r.vcpus[1]!.count;
        return { ...r, vcpus: r.vcpus.map((v, i) => (i === 1 ? { ...v, count: v.count + 1000n } : v)) };
      }),
    );
    const outcome = await replay({ logPath: damaged, capture: true, timeoutSeconds: DAMAGED_REPLAY_TIMEOUT_SECONDS });
    expect(outcome.kind).toBe('diverged');
    if (outcome.kind !== 'diverged') return;
    expect(outcome.report.vcpu).toBe(1);
    expect(outcome.report.what).toBe('wfi wake-up');
    expect(outcome.report.count).toBeGreaterThanOrEqual(parkedAt);
    expect(outcome.report.count).toBeLessThan(parkedAt + 1000n);
  }, 60_000);

  test('an incomplete log (the recorder died): replayed exactly to the last landmark it vouches for on each vCPU, reported incomplete, not a divergence', async () => {
    const dir = logFolder('smp-incomplete');
    const original = await recordedLog(dir);
    const cut = join(dir, 'incomplete.rrlog');
    const log = readLogFile(original);
    // What a crash leaves: sealed chunks, no stop record, no trailer.
    const records = log.records.filter((r) => r.type !== 'machine-stop');
    native().logWrite(cut, { header: log.header, records, close: false, maxChunkBytes: 4096 });
    const last = lastLandmarks(records, log.header.vcpus);
    const outcome = await replay({ logPath: cut, capture: true, timeoutSeconds: DAMAGED_REPLAY_TIMEOUT_SECONDS });
    expect(outcome.kind).toBe('incomplete');
    if (outcome.kind !== 'incomplete') return;
    expect(outcome.reached).toEqual(last);
    expect(outcome.result.vcpus.map((v) => v.landmark)).toEqual(last);
    const recorded = await replay({ logPath: original, capture: true, timeoutSeconds: DAMAGED_REPLAY_TIMEOUT_SECONDS });
    expect(recorded.result.console.toString().startsWith(outcome.result.console.toString())).toBe(true);
  }, 60_000);

  test.each(VCPU_COUNTS)('a transfer edge removed on %i vCPUs: replay reports a divergence or an error, never a silent success', async (vcpus) => {
    const dir = logFolder(`smp-removed-${vcpus}`);
    const original = join(dir, 'racy.rrlog');
    await recordSmall('racy-counter', vcpus, original);
    const damaged = join(dir, 'removed.rrlog');
    rewriteLog(original, damaged, (records) => {
      // The transfer that lets a hart see the other's increments: the longest wait.
      const transfers = records.filter((r): r is Transfer => r.type === 'crew-transfer');
      const victim = transfers.reduce((a, b) => (b.from.count > a.from.count ? b : a));
      return records.filter((r) => r !== victim);
    });
    await expectCaughtDamage(damaged);
  }, 90_000);
});
