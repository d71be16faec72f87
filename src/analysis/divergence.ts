/**
 * A divergence report: where a replay first differed from its recording, as data (rr's
 * Registers::compare_with) and as one line for people.
 */
import type { NativeDivergence } from '../native.js';

export interface DivergenceReport {
  vcpu: number;
  /** the vCPU's landmark when it diverged (emu: instructions it had retired) */
  count: bigint;
  /** what differed: "register hash", "memory hash", "input kind", "console output", ... */
  what: string;
  expected: string;
  actual: string;
  /**
   * The engine's one line for it: "replay diverged at vcpu V @ instruction N: WHAT: expected
   * E, actual A" (formatted once, by native/replay/divergence.cc).
   */
  summary: string;
  /** the last checkpoint that still matched, as each vCPU's count (absent: none did) */
  lastMatchingCheckpoint?: bigint[];
}

/** `summary`: the engine's line for it (the run result's `error`). */
export function divergenceFromNative(d: NativeDivergence, summary: string): DivergenceReport {
  return { vcpu: d.vcpu, count: d.count, what: d.what, expected: d.expected, actual: d.actual, summary };
}

export function formatDivergence(report: DivergenceReport): string {
  const matched =
    report.lastMatchingCheckpoint === undefined
      ? 'no checkpoint matched before it'
      : `last matching checkpoint at ${report.lastMatchingCheckpoint.map((c, v) => `vcpu ${v} @ ${c}`).join(', ')}`;
  return `${report.summary} (${matched})`;
}
