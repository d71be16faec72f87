/**
 * A divergence report: where a replay first differed from its recording, as data (rr's
 * Registers::compare_with) and as one line for people.
 */
import type { NativeDivergence } from '../native.js';

export interface DivergenceReport {
  vcpu: number;
  /** the vCPU's landmark where it diverged: instructions retired (emu) or VM exits taken (kvm) */
  count: bigint;
  /** what `count` counts; absent means instructions */
  unit?: 'instructions' | 'exits';
  /** what differed: "register hash", "memory hash", "input kind", "console output", ... */
  what: string;
  expected: string;
  actual: string;
  /** the last checkpoint that still matched, as each vCPU's count (absent: none did) */
  lastMatchingCheckpoint?: bigint[];
}

export function divergenceFromNative(d: NativeDivergence, unit: 'instructions' | 'exits' = 'instructions'): DivergenceReport {
  return { vcpu: d.vcpu, count: d.count, unit, what: d.what, expected: d.expected, actual: d.actual };
}

export function formatDivergence(report: DivergenceReport): string {
  const matched =
    report.lastMatchingCheckpoint === undefined
      ? 'no checkpoint matched before it'
      : `last matching checkpoint at ${report.lastMatchingCheckpoint.map((c, v) => `vcpu ${v} @ ${c}`).join(', ')}`;
  const where = report.unit === 'exits' ? `exit ${report.count}` : `instruction ${report.count}`;
  return `replay diverged at vcpu ${report.vcpu} @ ${where}: ${report.what}: expected ${report.expected}, actual ${report.actual} (${matched})`;
}
