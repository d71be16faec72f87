/**
 * What the before/after benches share (bench/smp-sharing-compare.ts on emu,
 * bench/kvm-smp-compare.ts on kvm): their arguments, the session functions of the rrkit
 * checkout TREE they measure — imported from TREE, built, so that main's build before a
 * change and a branch's after it run under the same harness — and rounds of plain run,
 * recording and replay, each replay checked against its recording.
 */
import { join, resolve } from 'node:path';
import type { RecordOptions } from '../src/session/record.js';
import type { PlainRunOptions } from '../src/session/run.js';
import { median, secondsSince } from './timing.js';

export interface CompareArgs {
  tree: string;
  workload: string;
  vcpuCounts: number[];
  rounds: number;
}

/** `SCRIPT TREE WORKLOAD VCPUS [ROUNDS]`, or the usage line and exit 2. */
export function compareArgs(script: string, argv: readonly string[] = process.argv.slice(2)): CompareArgs {
  const [tree, workload, vcpuList, rounds] = argv;
  const vcpuCounts = (vcpuList ?? '').split(',').map(Number);
  const roundCount = Number(rounds ?? 3);
  if (!tree || !workload || !vcpuList || !vcpuCounts.every((n) => Number.isInteger(n) && n >= 1) || !(Number.isInteger(roundCount) && roundCount >= 1)) {
    process.stderr.write(`usage: ${script} TREE WORKLOAD VCPUS(2,4,8) [ROUNDS]\n`);
    process.exit(2);
  }
  return { tree: resolve(tree), workload, vcpuCounts, rounds: roundCount };
}

/** The functions a round needs, as TREE has them (its types may differ from this checkout's). */
export interface TreeSessions {
  record: (options: RecordOptions) => Promise<{ console: Buffer; stateHash: unknown; vcpus: { landmark: bigint }[] }>;
  replay: (options: { logPath: string; capture: boolean; timeoutSeconds: number }) => Promise<{
    kind: string;
    result: { console: Buffer; stateHash: unknown };
  }>;
  runGuest: (options: PlainRunOptions) => Promise<unknown>;
  scanLogFile: (path: string, visit: (record: { type: string }) => void) => void;
}

export async function treeSessions(tree: string): Promise<TreeSessions> {
  const { record } = await import(join(tree, 'src/session/record.ts'));
  const { replay } = await import(join(tree, 'src/session/replay.ts'));
  const { runGuest } = await import(join(tree, 'src/session/run.ts'));
  const { scanLogFile } = await import(join(tree, 'src/analysis/log-reader.ts'));
  return { record, replay, runGuest, scanLogFile };
}

export interface RoundTimes {
  plain: number[];
  recorded: number[];
  replayed: number[];
}

/**
 * `rounds` rounds of plain run, recording into `logPath` and its replay; throws if a replay
 * is not its recording (console, exit, state hash). `first` sees the first round's recording.
 */
export async function timedRounds(
  sessions: TreeSessions,
  rounds: number,
  what: string,
  options: { plain: PlainRunOptions; record: RecordOptions; replayTimeoutSeconds: number },
  first: (recorded: Awaited<ReturnType<TreeSessions['record']>>) => void,
): Promise<RoundTimes> {
  const times: RoundTimes = { plain: [], recorded: [], replayed: [] };
  for (let round = 0; round < rounds; round++) {
    let t = process.hrtime.bigint();
    await sessions.runGuest(options.plain);
    times.plain.push(secondsSince(t));
    t = process.hrtime.bigint();
    const r = await sessions.record(options.record);
    times.recorded.push(secondsSince(t));
    t = process.hrtime.bigint();
    const p = await sessions.replay({ logPath: options.record.logPath, capture: true, timeoutSeconds: options.replayTimeoutSeconds });
    times.replayed.push(secondsSince(t));
    if (p.kind !== 'exited' || !p.result.console.equals(r.console) || p.result.stateHash !== r.stateHash) {
      throw new Error(`${what}: the replay is not the recording`);
    }
    if (round === 0) first(r);
  }
  return times;
}

/** Best seconds of each, record/plain of the bests and the median of each round's own ratio, replay/record. */
export function summarize(times: RoundTimes): Record<string, number> {
  const best = (values: number[]): number => Math.min(...values);
  const ratio = (x: number): number => Number(x.toFixed(2));
  return {
    plain: best(times.plain),
    record: best(times.recorded),
    replay: best(times.replayed),
    recordOverPlain: ratio(best(times.recorded) / best(times.plain)),
    medianRecordOverPlain: ratio(median(times.recorded.map((r, i) => r / times.plain[i]!))),
    replayOverRecord: ratio(best(times.replayed) / best(times.recorded)),
  };
}
