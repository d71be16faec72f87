/**
 * Verification: replay a log and say whether the replay was identical to the recording —
 * every checkpoint's register and memory hashes (compared during the replay), the console
 * output, the exit code and the final state — as a verdict that is data. What it reports
 * is what the replay checked (the engine counts the checkpoints it compared), never a count
 * read from the file afterwards, which a recording still writing it may have grown.
 */
import type { DivergenceReport } from '../analysis/divergence.js';
import type { LandmarkUnit } from '../engines/engine.js';
import { totalLandmarks } from '../engines/engine.js';
import { replay, type ReplayOptions, type ReplayOutcome } from './replay.js';

export type Verdict =
  | {
      verdict: 'identical';
      /** checkpoints compared, every one equal */
      checkpoints: number;
      /** landmarks over all vCPUs, in `landmarkUnit` */
      landmarks: bigint;
      landmarkUnit: LandmarkUnit;
      exitCode: number;
      consoleBytes: number;
      stateHash: bigint;
    }
  /**
   * the log has no trailer: replayed up to the last landmark it vouches for on each vCPU
   * (`reached`), with `checkpoints` compared, every one equal
   */
  | { verdict: 'incomplete'; checkpoints: number; reached: bigint[]; landmarkUnit: LandmarkUnit }
  | { verdict: 'diverged'; report: DivergenceReport };

export interface Verification {
  verdict: Verdict;
  /** the replay behind it */
  outcome: ReplayOutcome;
  /**
   * With `shuffle`: the shuffled replays run after the first (all of them when every one
   * agreed), and the schedule of the one that did not, if any (its verdict is `verdict`).
   */
  shuffled?: { runs: number; disagreed?: ShuffledSchedule };
}

/** One shuffled replay's schedule: the seed that varied it, and the host threads it ran on. */
export interface ShuffledSchedule {
  seed: number;
  threads: number | undefined;
}

/**
 * `runs` more replays under shuffled host schedules (RunOptions.shuffleSeed), seeds
 * `firstSeed`, `firstSeed + 1`, ...; every other one on 1 host thread (the rest on
 * `threads`, by default the host's cores), so that both a serial and a parallel schedule
 * are shuffled.
 */
export interface ShuffleOptions {
  runs: number;
  firstSeed?: number;
}

/**
 * Replays `options.logPath` (console output captured) and judges it; with `shuffle`, then
 * replays it again under shuffled host schedules, each of which must come to the same
 * verdict (docs/crew.md, "Shuffled replays"): the first that does not is the verdict, a
 * divergence. Throws for a bad log, a wrong image or bad options.
 */
export async function verify(options: Omit<ReplayOptions, 'capture' | 'shuffleSeed'>, shuffle?: ShuffleOptions): Promise<Verification> {
  const first = await verifyOnce(options);
  if (shuffle === undefined || shuffle.runs === 0 || first.verdict.verdict === 'diverged') return first;
  const firstSeed = shuffle.firstSeed ?? 1;
  for (let i = 0; i < shuffle.runs; i++) {
    const schedule: ShuffledSchedule = { seed: firstSeed + i, threads: i % 2 === 1 ? 1 : options.threads };
    const again = await verifyOnce({ ...options, threads: schedule.threads, shuffleSeed: schedule.seed });
    const differs = disagreement(first.verdict, again.verdict);
    if (differs !== undefined) return { verdict: { verdict: 'diverged', report: differs }, outcome: again.outcome, shuffled: { runs: i + 1, disagreed: schedule } };
  }
  return { ...first, shuffled: { runs: shuffle.runs } };
}

/** Where a shuffled replay's verdict differs from the first replay's, or undefined when they agree. */
function disagreement(first: Verdict, again: Verdict): DivergenceReport | undefined {
  if (again.verdict === 'diverged') return again.report;
  if (first.verdict === 'incomplete' && again.verdict === 'incomplete') {
    const v = first.reached.findIndex((count, i) => again.reached[i] !== count);
    if (v < 0) return undefined;
    const expected = `vcpu ${v} @ ${first.reached[v]}`;
    const actual = `vcpu ${v} @ ${again.reached[v]}`;
    const what = 'where the incomplete log ends';
    return { vcpu: v, count: first.reached[v] ?? 0n, what, expected, actual, summary: `replay diverged at vcpu ${v}: ${what}: expected ${expected}, actual ${actual}` };
  }
  // Both identical to the recording (each compared it), or one incomplete and one not,
  // which the same log cannot give.
  if (first.verdict === again.verdict) return undefined;
  return { vcpu: 0, count: 0n, what: 'verdict', expected: first.verdict, actual: again.verdict, summary: `replay diverged: verdict: expected ${first.verdict}, actual ${again.verdict}` };
}

async function verifyOnce(options: Omit<ReplayOptions, 'capture'>): Promise<Verification> {
  const outcome = await replay({ ...options, capture: true });
  switch (outcome.kind) {
    case 'diverged':
      return { verdict: { verdict: 'diverged', report: outcome.report }, outcome };
    case 'went-live':
      throw new Error('verify replays only: it never goes live');
    case 'incomplete':
      return {
        verdict: {
          verdict: 'incomplete',
          checkpoints: outcome.log.checkpointsCompared,
          reached: outcome.reached,
          landmarkUnit: outcome.engine.landmarkUnit,
        },
        outcome,
      };
    case 'exited':
      return {
        verdict: {
          verdict: 'identical',
          checkpoints: outcome.log.checkpointsCompared,
          landmarks: totalLandmarks(outcome.result),
          landmarkUnit: outcome.engine.landmarkUnit,
          exitCode: outcome.exitCode,
          consoleBytes: outcome.result.console.length,
          stateHash: outcome.result.stateHash,
        },
        outcome,
      };
  }
}
