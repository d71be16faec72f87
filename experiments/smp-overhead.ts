/**
 * Figure: uniprocessor against SMP record overhead — record time over a plain run with the
 * same vCPU count, for 1 vCPU (no CREW) and 2, 4 and 8 vCPUs (CREW page ownership), per
 * workload, on emu and on kvm where this commit runs kvm with several vCPUs; and machines
 * larger than the host (16, 32 and 64 vCPUs) on emu for the compute workloads. The sharing
 * workloads, and those written without rrkit's habits ('ordinary'), are the catalog's (new
 * ones join). Replay/record, transfers and log bytes per million landmarks in the data.
 *
 *   npm run experiments -- smp-overhead [--quick]
 *
 * On a 2-core host, 4 and 8 vCPUs run 2 and 4 vCPU threads per core.
 */
import { PALETTE, series, subtitle, unavailableNote, type ChartSpec } from './lib/charts.js';
import type { CellPlan, Figure, FigureTable } from './lib/figure.js';
import { ALL_VARIANTS, METRICS, recordStoppedFact, reproducedFact, rrkitCell, workloadsOf, type EngineName } from './lib/rrkit-cells.js';
import { CREW_DEFAULT_GRANULARITY, CREW_DEFAULT_HOLD } from '../src/smp/crew-options.js';

export const SMP_VCPUS = [1, 2, 4, 8];
export const SMP_ENGINES: readonly EngineName[] = ['emu', 'kvm'];
/** Machines larger than the 2-core host (issue 19): emu only, since kvm stops at 8 vCPUs. */
export const LARGE_VCPUS = [16, 32, 64];
/** The workloads whose fixed work is split among any number of harts: how record cost grows with the machine. */
export const LARGE_WORKLOADS = ['matmul', 'fft', 'sha256', 'radix-sort'];
/** Compute, every sharing workload, the race, those written without rrkit's habits, and the two that take world inputs (console-echo is too short to time). */
const ORDINARY = new Set(workloadsOf('ordinary'));
export function smpWorkloads(): string[] {
  return [...workloadsOf('compute', 'sharing', 'race', 'ordinary'), 'timer-ticks', 'entropy-mix'];
}

/** The cells smp-overhead and log-rate share (the same trials: log-rate costs no run of its own). */
export function smpCells(quick: boolean): CellPlan[] {
  const cell = (engine: EngineName, workload: string, vcpus: number): CellPlan => {
    // kvm transfers a page only at its holder's exits: a bare busy-wait never exits, so the
    // waiter waits for ever (docs/kvm-smp.md, Limits). One vCPU shares nothing.
    if (engine === 'kvm' && vcpus > 1 && ORDINARY.has(workload)) {
      return { key: { engine, workload, vcpus }, unavailable: 'kvm: busy-waits without an exit hold pages for ever (docs/kvm-smp.md, Limits)' };
    }
    return rrkitCell({ engine, workload, vcpus }, { engine, workload, small: quick, vcpus, variants: ALL_VARIANTS });
  };
  return [
    ...SMP_ENGINES.flatMap((engine) => smpWorkloads().flatMap((workload) => SMP_VCPUS.map((vcpus) => cell(engine, workload, vcpus)))),
    ...LARGE_WORKLOADS.flatMap((workload) => LARGE_VCPUS.map((vcpus) => cell('emu', workload, vcpus))),
  ];
}

/** The engine × vCPU series that have at least one measured cell (the rest are in the chart's note). */
export function measuredSeries(table: FigureTable): { engine: EngineName; vcpus: number }[] {
  return SMP_ENGINES.flatMap((engine) => [...SMP_VCPUS, ...LARGE_VCPUS].map((vcpus) => ({ engine, vcpus }))).filter(({ engine, vcpus }) =>
    table.cells.some((c) => c.key.engine === engine && c.key.vcpus === vcpus && c.status !== 'unavailable'),
  );
}

export function seriesLabel(engine: EngineName, vcpus: number): string {
  return vcpus === 1 ? `${engine}, 1 vCPU (uniprocessor)` : `${engine}, ${vcpus} vCPUs (CREW)`;
}

/** How smp-overhead and log-rate chart one column: what the bars are, in words. */
export interface SmpBarChart {
  column: string;
  title: string;
  /** lines under the title (empty ones are left out) */
  subtitle: string[];
  yAxis: string;
}

/** One column per workload, a bar for each measured engine × vCPU series, on a log axis with min–max whiskers. */
export function smpBarChart(table: FigureTable, chart: SmpBarChart): ChartSpec {
  const workloads = smpWorkloads();
  const sets = measuredSeries(table).map(({ engine, vcpus }, i) => ({
    label: seriesLabel(engine, vcpus),
    ...series(table, chart.column, workloads.map((workload) => ({ engine, workload, vcpus }))),
    backgroundColor: PALETTE[i % PALETTE.length]!,
  }));
  return {
    config: {
      type: 'bar',
      data: { labels: workloads, datasets: sets.map(({ ranges: _r, ...d }) => d) },
      options: {
        plugins: {
          title: { display: true, text: chart.title },
          subtitle: { display: true, text: chart.subtitle.filter((s) => s !== '') },
        },
        scales: {
          x: { title: { display: true, text: 'workload' } },
          y: { title: { display: true, text: chart.yAxis } },
        },
      },
    },
    errorBars: sets.map((s) => s.ranges),
    logAxes: ['y'],
  };
}

function chart(table: FigureTable): ChartSpec {
  return smpBarChart(table, {
    column: 'record_over_plain',
    title: 'Record time over a plain run with the same vCPU count: uniprocessor against SMP with CREW (4 KiB pages)',
    subtitle: [subtitle(table, 'target ≤ 1.5 on low-sharing workloads'), unavailableNote(table)],
    yAxis: 'record time relative to a plain run (×, log scale)',
  });
}

export const figure: Figure = {
  name: 'smp-overhead',
  title: 'Uniprocessor against SMP record overhead (CREW), emu and kvm',
  description:
    'Record time divided by a plain run with the same vCPU count, in the same trial, per workload: 1 vCPU (uniprocessor, no CREW) against 2, 4 and 8 vCPUs recorded with CREW page ownership (4 KiB pages). Compute workloads share little; the sharing workloads (lock-counter, atomic-histogram, false-sharing, producer-consumer, barrier-stencil, and any the catalog adds) move pages between vCPUs, and each move is a logged transfer. replay_over_record, transfers and log bytes per million landmarks in the data. On a 2-core host 4 and 8 vCPUs share the cores.',
  repeats: { full: 3, quick: 1 },
  cells: smpCells,
  metrics: [METRICS.recordOverPlain, METRICS.replayOverRecord, METRICS.plainSeconds, METRICS.transfersPerMillion, METRICS.logBytesPerMillionLandmarks],
  facts: (repeats) => ({ reproduced: reproducedFact(repeats), record_stopped: recordStoppedFact(repeats) }),
  scansLogs: true,
  chart,
  notes: {
    crew: { granularityBytes: CREW_DEFAULT_GRANULARITY, emuHoldInstructions: CREW_DEFAULT_HOLD },
    targets: { recordOverPlainLowSharing: 1.5, replayOverRecord: 2 },
  },
};
