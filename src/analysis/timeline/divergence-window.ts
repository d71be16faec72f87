/**
 * The stretch of a log around a divergence, for `verify --timeline`: from the last
 * checkpoint cut before the divergence (where every vCPU still matched, when the replay got
 * that far) to the first cut at or after it, each vCPU on its own landmarks.
 */
import type { DivergenceReport } from '../divergence.js';
import { scanLogFile } from '../log-reader.js';
import { LandmarkWindow } from './timeline-filter.js';
import type { TimelineMark } from './timeline-file.js';

export function windowAround(logPath: string, report: DivergenceReport): LandmarkWindow {
  let before: bigint[] | undefined = report.lastMatchingCheckpoint;
  let after: bigint[] | undefined;
  scanLogFile(logPath, (record) => {
    if (record.type !== 'checkpoint' || after !== undefined) return;
    const counts = record.vcpus.map((v) => v.count);
    const at = counts[report.vcpu];
    if (at === undefined) return;
    if (at >= report.count) after = counts;
    else if (report.lastMatchingCheckpoint === undefined) before = counts;
  });
  return LandmarkWindow.perVcpu(before ?? [], after ?? []);
}

/** The divergence as a mark on its vCPU's track. */
export function divergenceMark(report: DivergenceReport): TimelineMark {
  return {
    vcpu: report.vcpu,
    count: report.count,
    name: `diverged: ${report.what}`,
    args: { expected: report.expected, actual: report.actual, summary: report.summary },
  };
}
