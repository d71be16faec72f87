/**
 * Figure: how fast the log grows — bytes per second of recording and per million landmarks
 * (emu: instructions; kvm: VM exits), per workload, engine and vCPU count, as written and,
 * where this commit's log compresses its chunks, before compression. Made from the very
 * trials of smp-overhead (the runner runs them once for both).
 *
 *   npm run experiments -- log-rate [--quick]
 */
import { subtitle, unavailableNote, type ChartSpec } from './lib/charts.js';
import type { Figure, FigureTable, Metric } from './lib/figure.js';
import { METRICS, recordStoppedFact } from './lib/rrkit-cells.js';
import { smpBarChart, smpCells } from './smp-overhead.js';

const uncompressedPerSecond: Metric = {
  column: 'log_bytes_before_compression_per_second',
  unit: 'bytes of chunk payload before compression per second of recording (only where the log compresses)',
  of: (v, log) => (log?.payloadBytes == null || typeof v.recordSeconds !== 'number' ? null : log.payloadBytes / v.recordSeconds),
};
const compressionRatio: Metric = {
  column: 'compression_ratio',
  unit: 'chunk payload bytes before compression / as stored (only where the log compresses)',
  of: (_v, log) => (log?.payloadBytes == null || !log.storedBytes ? null : log.payloadBytes / log.storedBytes),
};

function chart(table: FigureTable): ChartSpec {
  const compresses = table.cells.some((c) => c.metrics.compression_ratio != null);
  return smpBarChart(table, {
    column: 'log_bytes_per_second',
    title: 'Log rate while recording, per workload, engine and vCPU count (as written to disk)',
    subtitle: [
      subtitle(table, compresses ? 'before-compression rates and ratios in the CSV' : 'the log is not compressed on this commit'),
      unavailableNote(table),
    ],
    yAxis: 'log bytes per second of recording (B/s, log scale)',
  });
}

export const figure: Figure = {
  name: 'log-rate',
  title: 'Log rate by workload, engine and vCPU count',
  description:
    'Bytes of log per second of recording and per million landmarks (emu: instructions retired on all vCPUs; kvm: VM exits), from the recordings of smp-overhead. Where the log format compresses its chunks, the payload before compression and the ratio too; on a commit whose log stores chunks as they are, those columns say so. For scale: VMware FT reports 1.5-18 Mbit/s (0.19-2.25 MB/s) of log for its workloads.',
  repeats: { full: 3, quick: 1 },
  cells: smpCells,
  metrics: [METRICS.logBytesPerSecond, METRICS.logBytesPerMillionLandmarks, uncompressedPerSecond, compressionRatio],
  facts: (repeats, logs) => ({
    record_stopped: recordStoppedFact(repeats),
    compression:
      logs.length === 0 ? '' : logs.every((l) => l.payloadBytes === null) ? 'not available on this commit: the log stores its chunks uncompressed' : 'compressed chunks',
  }),
  scansLogs: true,
  chart,
};
