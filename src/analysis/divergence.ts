/**
 * A divergence report: where a replay first differed from its recording, as data (rr's
 * Registers::compare_with) and as one line for people.
 */
import type { NativeDivergence } from '../native.js';

export interface DivergenceReport {
  vcpu: number;
  /** instructions the vCPU had retired when it diverged (its landmark) */
  count: bigint;
  /** what differed: "register hash", "memory hash", "input kind", "console output", ... */
  what: string;
  expected: string;
  actual: string;
  /** the last checkpoint that still matched, as each vCPU's count (absent: none did) */
  lastMatchingCheckpoint?: bigint[];
}

export function divergenceFromNative(d: NativeDivergence): DivergenceReport {
  return { vcpu: d.vcpu, count: d.count, what: d.what, expected: d.expected, actual: d.actual };
}

export function formatDivergence(report: DivergenceReport): string {
  const matched =
    report.lastMatchingCheckpoint === undefined
      ? 'no checkpoint matched before it'
      : `last matching checkpoint at ${report.lastMatchingCheckpoint.map((c, v) => `vcpu ${v} @ ${c}`).join(', ')}`;
  return `replay diverged at vcpu ${report.vcpu} @ instruction ${report.count}: ${report.what}: expected ${report.expected}, actual ${report.actual} (${matched})`;
}
