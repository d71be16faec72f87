/**
 * Figure: what uniprocessor record and replay cost, on the emu and kvm engines side by side —
 * record and replay time over a plain run of the same workload, all three in one trial.
 *
 *   npm run experiments -- uniprocessor-overhead [--quick]
 */
import { PALETTE, series, subtitle, unavailableNote, type ChartSpec } from './lib/charts.js';
import type { CellPlan, Figure, FigureTable } from './lib/figure.js';
import { ALL_VARIANTS, METRICS, reproducedFact, rrkitCell, type EngineName } from './lib/rrkit-cells.js';

export const UNIPROCESSOR_WORKLOADS = ['matmul', 'fft', 'radix-sort', 'sha256', 'lock-counter', 'timer-ticks', 'entropy-mix'];
const ENGINES: readonly EngineName[] = ['emu', 'kvm'];

function cells(quick: boolean): CellPlan[] {
  return ENGINES.flatMap((engine) =>
    UNIPROCESSOR_WORKLOADS.map((workload) =>
      rrkitCell({ engine, workload }, { engine, workload, small: quick, vcpus: 1, variants: ALL_VARIANTS }),
    ),
  );
}

function chart(table: FigureTable): ChartSpec {
  const keys = (engine: EngineName) => UNIPROCESSOR_WORKLOADS.map((workload) => ({ engine, workload }));
  const sets = ENGINES.flatMap((engine, e) =>
    (['record_over_plain', 'replay_over_plain'] as const).map((metric, m) => ({
      label: `${engine}: ${metric === 'record_over_plain' ? 'record' : 'replay'} / plain`,
      ...series(table, metric, keys(engine)),
      backgroundColor: PALETTE[e * 2 + m]!,
    })),
  );
  const config: ChartSpec['config'] = {
    type: 'bar',
    data: { labels: UNIPROCESSOR_WORKLOADS, datasets: sets.map(({ ranges: _r, ...d }) => d) },
    options: {
      plugins: {
        title: { display: true, text: 'Uniprocessor record and replay time over a plain run (1 vCPU; emu and kvm side by side)' },
        subtitle: { display: true, text: [subtitle(table, 'kvm: x86-64 build of the same workload'), unavailableNote(table)].filter((s) => s !== '') },
      },
      scales: {
        x: { title: { display: true, text: 'workload' } },
        y: { beginAtZero: true, title: { display: true, text: 'time relative to a plain run (×)' } },
      },
    },
  };
  return { config, errorBars: sets.map((s) => s.ranges) };
}

export const figure: Figure = {
  name: 'uniprocessor-overhead',
  title: 'Uniprocessor record and replay overhead, emu and kvm',
  description:
    'Record and replay time divided by a plain run of the same workload in the same trial (one process per trial, plain then record then replay), 1 vCPU, on the emu engine (RV64, exact instruction counts) and the kvm engine (x86-64 on /dev/kvm, landmarks at VM exits). 1.0 is free; the targets are ≤ 1.10 (emu) and record ≤ 1.05 (kvm). reproduced: whether every replay matched its recording (checkpoints, console output, exit code).',
  repeats: { full: 3, quick: 1 },
  cells,
  metrics: [METRICS.recordOverPlain, METRICS.replayOverPlain, METRICS.plainSeconds, METRICS.logBytesPerMillionLandmarks],
  facts: (repeats) => ({ reproduced: reproducedFact(repeats) }),
  chart,
  notes: { targets: { emuRecordOverPlain: 1.1, emuReplayOverPlain: 1.1, kvmRecordOverPlain: 1.05 } },
};
