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
}

/** Replays `options.logPath` (console output captured) and judges it. Throws for a bad log, a wrong image or bad options. */
export async function verify(options: Omit<ReplayOptions, 'capture'>): Promise<Verification> {
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
