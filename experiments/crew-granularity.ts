/**
 * Figure: what the CREW page size costs — record time over a plain run, and transfers per
 * million instructions, for ownership pages from a cache line (64 B) to a huge page (2 MiB),
 * on 2 and 4 vCPUs (emu). Small pages cut false sharing but fault more often (and first
 * touches cost a fault each); large pages fault rarely but share more.
 *
 *   npm run experiments -- crew-granularity [--quick]
 */
import { PALETTE, series, subtitle, unavailableNote, type ChartSpec } from './lib/charts.js';
import type { CellPlan, Figure, FigureTable } from './lib/figure.js';
import { METRICS, rrkitCell } from './lib/rrkit-cells.js';
import { CREW_DEFAULT_HOLD } from '../src/smp/crew-options.js';

const WORKLOADS = ['matmul', 'fft', 'radix-sort', 'atomic-histogram', 'barrier-stencil'];
// Six sizes, not every power of four: the small pages thrash on 4 vCPUs (atomic-histogram at
// 256 B took half a minute of CPU a trial), and the whole set must fit in 20 minutes.
const GRANULARITIES = [64, 1024, 4096, 16384, 65536, 2097152];
const VCPUS = [2, 4];

const sizeLabel = (g: number): string => (g >= 1024 * 1024 ? `${g / 1024 / 1024} MiB` : g >= 1024 ? `${g / 1024} KiB` : `${g} B`);

function cells(quick: boolean): CellPlan[] {
  return VCPUS.flatMap((vcpus) =>
    WORKLOADS.flatMap((workload) =>
      GRANULARITIES.map((granularity) =>
        rrkitCell(
          { workload, vcpus, granularity_bytes: granularity },
          { engine: 'emu', workload, small: quick, vcpus, crewGranularity: granularity, variants: ['plain', 'record'] },
        ),
      ),
    ),
  );
}

function chart(table: FigureTable): ChartSpec {
  const sets = VCPUS.flatMap((vcpus) =>
    WORKLOADS.map((workload, i) => ({
      label: `${workload}, ${vcpus} vCPUs`,
      ...series(table, 'record_over_plain', GRANULARITIES.map((granularity_bytes) => ({ workload, vcpus, granularity_bytes }))),
      borderColor: PALETTE[i % PALETTE.length]!,
      backgroundColor: PALETTE[i % PALETTE.length]!,
      borderDash: vcpus === VCPUS[0] ? [] : [6, 4],
    })),
  );
  return {
    config: {
      type: 'line',
      data: { labels: GRANULARITIES.map(sizeLabel), datasets: sets.map(({ ranges: _r, ...d }) => d) },
      options: {
        plugins: {
          title: { display: true, text: 'CREW record overhead by ownership page size (emu; solid: 2 vCPUs, dashed: 4 vCPUs)' },
          subtitle: { display: true, text: [subtitle(table, 'transfers per million instructions in the CSV'), unavailableNote(table)].filter((s) => s !== '') },
        },
        scales: {
          x: { title: { display: true, text: 'CREW ownership page (bytes)' } },
          y: { title: { display: true, text: 'record time relative to a plain run (×, log scale)' } },
        },
      },
    },
    errorBars: sets.map((s) => s.ranges),
    logAxes: ['y'],
  };
}

export const figure: Figure = {
  name: 'crew-granularity',
  title: 'CREW record overhead and transfers against ownership page size',
  description:
    'Record time divided by a plain run (same trial, same vCPU count) and CREW transfers per million instructions, for ownership pages of 64 B, 1, 4, 16 and 64 KiB and 2 MiB, 2 and 4 vCPUs, emu. 4 KiB is the default and what EPT write protection gives. Smaller pages fault more (every first touch is a fault) and split data that one instruction pair touches; larger pages bring back false sharing (fft\'s per-hart rows share 64 KiB pages; at 2 MiB everything shares).',
  repeats: { full: 2, quick: 1 },
  cells,
  metrics: [METRICS.recordOverPlain, METRICS.plainSeconds, METRICS.transfersPerMillion, METRICS.logBytesPerMillionLandmarks],
  scansLogs: true,
  chart,
  notes: { crewHoldInstructions: CREW_DEFAULT_HOLD },
};
