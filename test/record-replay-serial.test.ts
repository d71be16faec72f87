/**
 * SMP recording on guests not written for it (issues 15 and 19), on the emu engine: the
 * workloads without rrkit's habits on an odd vCPU count, serialized mode entered and left
 * (and its records damaged: caught, never a silent success or a hang), spin detection shown
 * to be timing only (a log recorded with it replays exactly without it, and the other way
 * round), vCPUs run M:N on fewer threads than vCPUs (a log recorded on 2 threads replays
 * exactly on 1 and on one thread per vCPU), and machines of 16 and 64 vCPUs. Every replay
 * is compared with its recording — console output, exit code, final state hash and each
 * vCPU's instruction count — and made twice, the second time on a shuffled host schedule. Small workloads, run one after another: the machine is shared.
 */
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { readLogFile } from '../src/analysis/log-reader.js';
import { logFileStats } from '../src/analysis/log-stats.js';
import type { LogRecord } from '../src/analysis/log-records.js';
import { builtGuestPath } from '../src/guests/catalog.js';
import { native } from '../src/native.js';
import { record, type RecordOptions } from '../src/session/record.js';
import { replay, type ReplayOptions } from '../src/session/replay.js';
import { verify } from '../src/session/verify.js';
import type { RunResult } from '../src/engines/engine.js';
import { buildIsaPrograms } from './isa-build.js';
import { logFolder } from './kept-logs.js';

const CHECKPOINT_INTERVAL = 250_000n;
const RUN_TIMEOUT_SECONDS = 60;
/** A damaged log must be caught by the replay itself, well before this. */
const DAMAGED_REPLAY_TIMEOUT_SECONDS = 30;

/**
 * Serialized mode early and often, on small workloads: a page that changes hands 5 times
 * per million instructions over 1000 instructions of a holder serializes its holders, and
 * a group tries parallel again after 100 000 instructions of turns.
 */
const SERIALIZE_OFTEN = { enterPerMillion: 5, window: 1000, probe: 100_000 };

type Extra = Omit<RecordOptions, 'elf' | 'logPath' | 'vcpus'>;

async function recordSmall(name: string, vcpus: number, logPath: string, extra: Extra = {}): Promise<RunResult> {
  const recorded = await record({
    elf: builtGuestPath(name, 'rv64', true),
    logPath,
    vcpus,
    capture: true,
    checkpointInterval: CHECKPOINT_INTERVAL,
    timeoutSeconds: RUN_TIMEOUT_SECONDS,
    ...extra,
  });
  expect(recorded.exitCode, name).toBe(0);
  expect(recorded.console.toString()).toMatch(new RegExp(`^${name}: ok`, 'm'));
  return recorded;
}

/**
 * Replays `logPath` twice — on the usual host schedule and on a shuffled one (docs/crew.md,
 * "Shuffled replays"; the seed from the path, so each log gets its own) — and compares
 * each with the recording.
 */
async function expectExactReplay(logPath: string, recorded: RunResult, options: Partial<ReplayOptions> = {}): Promise<void> {
  const seed = 1 + ([...logPath].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, 7) % 100_000);
  for (const shuffleSeed of [undefined, seed]) {
    const replayed = await replay({ logPath, capture: true, timeoutSeconds: RUN_TIMEOUT_SECONDS, ...options, shuffleSeed });
    const why = replayed.kind === 'diverged' ? JSON.stringify(replayed.report, (_k, v) => (typeof v === 'bigint' ? String(v) : v)) : '';
    expect(replayed.kind, `${logPath}${shuffleSeed === undefined ? '' : `, shuffled (seed ${shuffleSeed})`}: ${why}`).toBe('exited');
    expect(replayed.result.console.equals(recorded.console)).toBe(true);
    expect(replayed.result.exitCode).toBe(recorded.exitCode);
    expect(replayed.result.stateHash).toBe(recorded.stateHash);
    expect(replayed.result.vcpus.map((v) => v.landmark)).toEqual(recorded.vcpus.map((v) => v.landmark));
  }
}

function rewriteLog(from: string, to: string, change: (records: LogRecord[]) => LogRecord[]): void {
  const log = readLogFile(from);
  native().logWrite(to, { header: log.header, records: change([...log.records]), close: log.complete, maxChunkBytes: 64 * 1024 });
}

/** Anything but an exact, clean replay, from the replay itself: a divergence or a one-line error. */
async function expectCaughtDamage(logPath: string): Promise<string> {
  try {
    const outcome = await replay({ logPath, capture: true, timeoutSeconds: DAMAGED_REPLAY_TIMEOUT_SECONDS });
    expect(outcome.kind).toBe('diverged');
    return outcome.kind === 'diverged' ? outcome.report.what : '';
  } catch (error) {
    const message = (error as Error).message;
    expect(message.split('\n')).toHaveLength(1);
    expect(message).toMatch(/serial|turn|mode|CREW log|cannot progress|diverged/);
    expect(message).not.toMatch(/timeout|timed out/);
    return message;
  }
}

/** locked-ring on 2 vCPUs, serializing early and often. */
async function serializedLog(dir: string): Promise<{ logPath: string; recorded: RunResult; records: LogRecord[] }> {
  const logPath = join(dir, 'locked-ring.rrlog');
  const recorded = await recordSmall('locked-ring', 2, logPath, { serialize: SERIALIZE_OFTEN });
  return { logPath, recorded, records: [...readLogFile(logPath).records] };
}

type TurnSwitch = Extract<LogRecord, { type: 'turn-switch' }>;
type ModeSwitch = Extract<LogRecord, { type: 'mode-switch' }>;

describe('workloads written without rrkit habits', () => {
  // 2, 4 and 8 vCPUs are in record-replay-smp.test.ts with every workload; 3 is the odd
  // count (flag-handshake's unpaired hart plays both sides, locked-ring has 1 producer for 2 consumers).
  test('on 3 vCPUs, each replayed exactly', async () => {
    const dir = logFolder('serial-ordinary-3');
    for (const name of ['locked-ring', 'flag-handshake', 'work-queue']) {
      const logPath = join(dir, `${name}.rrlog`);
      const recorded = await recordSmall(name, 3, logPath);
      await expectExactReplay(logPath, recorded);
    }
  }, 180_000);
});

describe('serialized mode', () => {
  test('entered and left several times: replayed exactly, the options in the header', async () => {
    const { logPath, recorded, records } = await serializedLog(logFolder('serial-enter-leave'));
    const modes = records.filter((r): r is ModeSwitch => r.type === 'mode-switch');
    // Each vCPU joined a group and left it at least twice.
    for (const vcpu of [0, 1]) {
      expect(modes.filter((m) => m.vcpu === vcpu && m.serialized).length, `vcpu ${vcpu} joins`).toBeGreaterThanOrEqual(2);
      expect(modes.filter((m) => m.vcpu === vcpu && !m.serialized).length, `vcpu ${vcpu} leaves`).toBeGreaterThanOrEqual(2);
    }
    const handovers = records.filter((r): r is TurnSwitch => r.type === 'turn-switch' && r.next !== r.vcpu);
    expect(handovers.length).toBeGreaterThan(10);
    expect(JSON.parse(readLogFile(logPath).header.configJson)).toMatchObject({ serialize: SERIALIZE_OFTEN });
    // `rrkit log stats` counts them: a group per entry, every switch.
    const stats = logFileStats(logPath).serial!;
    expect(stats.modeSwitches).toBe(modes.length);
    expect(stats.groups).toBe(modes.filter((m) => m.serialized && m.vcpu === modes[0]!.vcpu).length);
    expect(stats.turnSwitches).toBe(records.filter((r) => r.type === 'turn-switch').length);
    await expectExactReplay(logPath, recorded);
    // Replay follows the records whatever its threads.
    await expectExactReplay(logPath, recorded, { threads: 1 });
  }, 120_000);

  // A group's members share its pages while serialized (docs/crew.md, "Pages shared within
  // a group"), or, with sharePages off, trade them at every turn as before: timing only.
  // Groups form and leave several times here, so members leave shared pages behind
  // (Crew::Unshare) and later follow each other by logged edges.
  test('pages shared within a group, or traded at every turn: each replayed exactly', async () => {
    const dir = logFolder('serial-share-pages');
    for (const sharePages of [true, false]) {
      for (const [name, vcpus] of [['locked-ring', 3], ['flag-handshake', 4], ['producer-consumer', 2]] as const) {
        const logPath = join(dir, `${name}-${vcpus}-${sharePages}.rrlog`);
        const recorded = await recordSmall(name, vcpus, logPath, { serialize: { ...SERIALIZE_OFTEN, sharePages } });
        const leaves = readLogFile(logPath).records.filter((r) => r.type === 'mode-switch' && !r.serialized);
        expect(leaves.length, `${name} on ${vcpus}, sharePages ${sharePages}: groups left`).toBeGreaterThan(0);
        await expectExactReplay(logPath, recorded);
      }
    }
  }, 240_000);

  test('streamed in many small chunks: the switches reach the follower as they are read, replayed exactly', async () => {
    const dir = logFolder('serial-streamed');
    const { logPath, recorded } = await serializedLog(dir);
    const small = join(dir, 'small-chunks.rrlog');
    const log = readLogFile(logPath);
    native().logWrite(small, { header: log.header, records: [...log.records], close: true, maxChunkBytes: 96 });
    expect(readLogFile(small).chunks.length).toBeGreaterThan(20);
    await expectExactReplay(small, recorded);
    await expectExactReplay(small, recorded, { threads: 1 });
  }, 120_000);

  test('never, with the entry rate 0: no mode or turn switches', async () => {
    const dir = logFolder('serial-off');
    const logPath = join(dir, 'locked-ring.rrlog');
    const recorded = await recordSmall('locked-ring', 2, logPath, { serialize: { enterPerMillion: 0 } });
    const types = new Set(readLogFile(logPath).records.map((r) => r.type));
    expect(types.has('mode-switch') || types.has('turn-switch')).toBe(false);
    expect(types.has('crew-transfer')).toBe(true);
    await expectExactReplay(logPath, recorded);
  }, 60_000);

  test('a turn switch removed: caught', async () => {
    const dir = logFolder('serial-removed');
    const { logPath, records } = await serializedLog(dir);
    const handovers = records.flatMap((r, i) => (r.type === 'turn-switch' && r.next !== r.vcpu ? [i] : []));
    const damaged = join(dir, 'removed.rrlog');
    rewriteLog(logPath, damaged, (rs) => rs.filter((_r, i) => i !== handovers[Math.floor(handovers.length / 2)]));
    await expectCaughtDamage(damaged);
  }, 60_000);

  test('a turn switch moved: caught', async () => {
    const dir = logFolder('serial-moved');
    const { logPath, records } = await serializedLog(dir);
    // A handover in the middle, moved later by half the way to that vCPU's next serial record.
    const at = records.findIndex(
      (r, i) => i > records.length / 2 && r.type === 'turn-switch' && r.next !== r.vcpu,
    );
    const moved = records[at] as TurnSwitch;
    const nextOfVcpu = records.slice(at + 1).find((r) => (r.type === 'turn-switch' || r.type === 'mode-switch') && r.vcpu === moved.vcpu);
    const gap = nextOfVcpu === undefined ? 10_000n : ((nextOfVcpu as TurnSwitch).count - moved.count) / 2n;
    expect(gap).toBeGreaterThan(0n);
    const damaged = join(dir, 'moved.rrlog');
    rewriteLog(logPath, damaged, (rs) => rs.map((r, i) => (i === at ? { ...moved, count: moved.count + gap } : r)));
    await expectCaughtDamage(damaged);
  }, 60_000);

  test('a damaged mode switch: verify says so in one line, no hang', async () => {
    const dir = logFolder('serial-damaged-mode');
    const { logPath } = await serializedLog(dir);
    const damaged = join(dir, 'mode.rrlog');
    // The first join turned into a leave: that vCPU leaves a group it is not in.
    rewriteLog(logPath, damaged, (rs) => {
      const at = rs.findIndex((r) => r.type === 'mode-switch' && r.serialized);
      rs[at] = { ...(rs[at] as ModeSwitch), serialized: false };
      return rs;
    });
    const verification = await verify({ logPath: damaged, timeoutSeconds: DAMAGED_REPLAY_TIMEOUT_SECONDS }).then(
      (v) => v.verdict.verdict,
      (error: Error) => error.message,
    );
    expect(verification).not.toBe('identical');
    if (verification !== 'diverged') {
      expect(verification.split('\n')).toHaveLength(1);
      expect(verification).toMatch(/serial|mode|group/);
    }
  }, 60_000);

  test("racy-counter's lost updates reproduced exactly, serialized and in parallel", async () => {
    const dir = logFolder('serial-racy');
    for (const [label, serialize] of [
      ['serialized', SERIALIZE_OFTEN],
      ['parallel', { enterPerMillion: 0 }],
    ] as const) {
      const logPath = join(dir, `racy-${label}.rrlog`);
      // Full size (~0.3 s): the small race can end before the other hart starts.
      const recorded = await record({
        elf: builtGuestPath('racy-counter', 'rv64', false),
        logPath,
        vcpus: 2,
        capture: true,
        checkpointInterval: 2_500_000n,
        timeoutSeconds: RUN_TIMEOUT_SECONDS,
        serialize,
      });
      const types = new Set(readLogFile(logPath).records.map((r) => r.type));
      expect(types.has('turn-switch'), label).toBe(label === 'serialized');
      await expectExactReplay(logPath, recorded);
    }
  }, 120_000);
});

describe('replay --then-run from serialized groups', () => {
  /** After each record, the vCPUs in a serialized group. */
  function inGroups(records: readonly LogRecord[]): number[] {
    let members = 0;
    return records.map((r) => {
      if (r.type === 'mode-switch') members += r.serialized ? 1 : -1;
      return members;
    });
  }

  test('complete, cut inside a serialized stretch (stopped, crashed) and after leaving one: live from the end, each next log replayed exactly', async () => {
    const dir = logFolder('serial-then-run');
    const { logPath, recorded, records } = await serializedLog(dir);
    const { header } = readLogFile(logPath);
    const body = records.filter((r) => r.type !== 'machine-stop');
    const members = inGroups(body);
    // Stopped inside a stretch: right after a hand-over of the turn, a third of the way in.
    const inside = body.findIndex((r, i) => i > body.length / 3 && members[i]! > 0 && r.type === 'turn-switch' && r.next !== r.vcpu);
    // Left before its end: the last leave (everyone free again) in the first 90%, then up to the next join.
    let leftAt = -1;
    for (let i = 0; i < body.length * 0.9; i++) if (body[i]!.type === 'mode-switch' && members[i] === 0) leftAt = i;
    const rejoin = body.findIndex((r, i) => i > leftAt && r.type === 'mode-switch' && r.serialized);
    expect(inside).toBeGreaterThan(0);
    expect(leftAt).toBeGreaterThan(0);
    const cuts = [
      { name: 'stopped inside a stretch', records: body.slice(0, inside + 1), chunk: 65536 },
      { name: 'crashed: half the records', records: body.slice(0, Math.floor(body.length / 2)), chunk: 4096 },
      { name: 'left serialized mode before its end', records: body.slice(0, rejoin < 0 ? leftAt + 1 : rejoin), chunk: 4096 },
    ];
    expect(members[inside]).toBe(2);
    expect(inGroups(cuts[2]!.records).at(-1)).toBe(0);

    // The complete log: the replay ends with the guest, nothing goes live, the next log is its copy.
    const completeNext = join(dir, 'complete.next.rrlog');
    const complete = await replay({ logPath, capture: true, timeoutSeconds: RUN_TIMEOUT_SECONDS, thenRun: { logPath: completeNext } });
    expect(complete.kind).toBe('exited');
    expect(complete.result.console.equals(recorded.console)).toBe(true);
    expect(readLogFile(completeNext).records).toEqual(records);

    for (const cut of cuts) {
      const cutLog = join(dir, `${cut.name.replace(/\W+/g, '-')}.rrlog`);
      native().logWrite(cutLog, { header, records: cut.records, close: false, maxChunkBytes: cut.chunk });
      const next = `${cutLog}.next.rrlog`;
      const continued = await replay({ logPath: cutLog, capture: true, timeoutSeconds: RUN_TIMEOUT_SECONDS, thenRun: { logPath: next } });
      expect(continued.kind, cut.name).toBe('went-live');
      expect(continued.result.exitCode, cut.name).toBe(0);
      expect(continued.result.console.equals(recorded.console), cut.name).toBe(true);
      // The next log: the copy, a checkpoint at the switch, then a leave for every member of an open group.
      const nextRecords = readLogFile(next).records;
      expect(nextRecords.slice(0, cut.records.length), cut.name).toEqual(cut.records);
      expect(nextRecords[cut.records.length]!.type, cut.name).toBe('checkpoint');
      const open = inGroups(cut.records).at(-1)!;
      const leaves = nextRecords.slice(cut.records.length + 1, cut.records.length + 1 + open);
      expect(leaves.every((r) => r.type === 'mode-switch' && !r.serialized), cut.name).toBe(true);
      expect(new Set(leaves.map((r) => (r as ModeSwitch).vcpu)).size, cut.name).toBe(open);
      const verified = await verify({ logPath: next, timeoutSeconds: RUN_TIMEOUT_SECONDS });
      expect(verified.verdict.verdict, cut.name).toBe('identical');
    }
  }, 240_000);
});

describe('spin detection', () => {
  // A log does not say whether its recording detected spins: recorded either way, it
  // replays exactly (replay itself never probes; spinDetection there changes nothing).
  test.each([true, false])('recorded with detection %s: replayed exactly', async (detect) => {
    const dir = logFolder(`serial-spin-${detect}`);
    // Not locked-ring in parallel: without detection its bare busy-waits trade the ring's page
    // for tens of seconds on a loaded host.
    for (const [name, serialize] of [
      ['locked-ring', SERIALIZE_OFTEN],
      ['work-queue', { enterPerMillion: 0 }],
    ] as const) {
      const logPath = join(dir, `${name}-${serialize.enterPerMillion}.rrlog`);
      const recorded = await recordSmall(name, 2, logPath, { spinDetection: detect, serialize });
      await expectExactReplay(logPath, recorded, { spinDetection: !detect });
      await expectExactReplay(logPath, recorded, { spinDetection: detect });
    }
  }, 240_000);
});

/**
 * Serialized mode whose turns never run out (a quantum far longer than the run, no probe,
 * no leaving for idleness): a holder's turn ends only where the spin probe sees it spin (or
 * it sleeps in wfi).
 */
const TURNS_END_ONLY_BY_SPINS = { enterPerMillion: 5, window: 1000, quantum: 1_000_000_000, probe: 1_000_000_000_000, idleTurns: 1_000_000 };

/** Instructions each turn handed to another member ran: a member executes only in its turns, so from its previous serial record to the switch that ends the turn. */
function turnLengths(records: readonly LogRecord[]): bigint[] {
  const last = new Map<number, bigint>();
  const lengths: bigint[] = [];
  for (const r of records) {
    if (r.type !== 'turn-switch' && r.type !== 'mode-switch') continue;
    const before = last.get(r.vcpu);
    if (r.type === 'turn-switch' && r.next !== r.vcpu && before !== undefined) lengths.push(r.count - before);
    last.set(r.vcpu, r.count);
  }
  return lengths;
}

const median = (values: readonly bigint[]): bigint => [...values].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))[values.length >> 1]!;

describe('spin probe', () => {
  // test/isa/spin-shapes.S: a wait entered through a block outside its loop, a wait on two
  // flags, a wait with a delay loop inside; each round hands the turn over twice. A turn
  // is its holder's work (about 100 instructions) and its spin until the probe sees it:
  // a probe that misses a shape leaves the turn to run out (a billion instructions).
  test("busy-waits of every shape end their holder's turn at once; replayed exactly", async () => {
    const { 'spin-shapes': elf } = await buildIsaPrograms(['spin-shapes']);
    const logPath = join(logFolder('serial-spin-shapes'), 'spin-shapes.rrlog');
    const recorded = await record({
      elf: elf!,
      logPath,
      vcpus: 2,
      capture: true,
      checkpointInterval: 20_000n,
      timeoutSeconds: RUN_TIMEOUT_SECONDS,
      serialize: TURNS_END_ONLY_BY_SPINS,
    });
    expect(recorded.console.toString()).toBe('PASS spin-shapes\n');
    const turns = turnLengths(readLogFile(logPath).records);
    expect(turns.length).toBeGreaterThanOrEqual(100);
    expect(median(turns)).toBeLessThan(300n);
    await expectExactReplay(logPath, recorded);
  }, 120_000);

  // flag-handshake: the turn flag's wait is entered through a block before its loop.
  test('flag-handshake on 2 and 4 vCPUs: every pass hands the turn over at once; replayed exactly', async () => {
    const dir = logFolder('serial-spin-handshake');
    for (const vcpus of [2, 4]) {
      const logPath = join(dir, `flag-handshake-${vcpus}.rrlog`);
      const recorded = await recordSmall('flag-handshake', vcpus, logPath, { serialize: TURNS_END_ONLY_BY_SPINS });
      const turns = turnLengths(readLogFile(logPath).records);
      expect(turns.length, `${vcpus} vCPUs`).toBeGreaterThanOrEqual(2000);
      expect(median(turns), `${vcpus} vCPUs`).toBeLessThan(300n);
      await expectExactReplay(logPath, recorded);
    }
  }, 180_000);
});

describe('vCPUs on fewer threads than vCPUs (M:N)', () => {
  test('8 vCPUs recorded on 2 threads: replayed exactly on 1 thread, 2, and one per vCPU', async () => {
    const dir = logFolder('serial-mn');
    for (const name of ['radix-sort', 'lock-counter', 'locked-ring']) {
      const logPath = join(dir, `${name}.rrlog`);
      const recorded = await recordSmall(name, 8, logPath, { threads: 2 });
      for (const threads of [1, 2, 8]) await expectExactReplay(logPath, recorded, { threads });
    }
  }, 240_000);

  test('4 vCPUs recorded on 1 thread, short slices: replayed exactly on 4', async () => {
    const dir = logFolder('serial-mn-one');
    const logPath = join(dir, 'producer-consumer.rrlog');
    const recorded = await recordSmall('producer-consumer', 4, logPath, { threads: 1 });
    await expectExactReplay(logPath, recorded, { threads: 4 });
  }, 60_000);
});

describe('machines of 16 and 64 vCPUs', () => {
  test.each([16, 64])('%i vCPUs: scaled workloads replayed exactly', async (vcpus) => {
    const dir = logFolder(`serial-wide-${vcpus}`);
    for (const name of ['matmul', 'lock-counter', 'locked-ring']) {
      const logPath = join(dir, `${name}.rrlog`);
      const recorded = await recordSmall(name, vcpus, logPath);
      expect(recorded.vcpus).toHaveLength(vcpus);
      await expectExactReplay(logPath, recorded);
    }
  }, 240_000);
});
