/**
 * Figure: how long interrupts wait on kvm — the distribution (CDF) of the delay between an
 * interrupt falling due and its delivery at the next VM exit (kvm has no PMU here, so exits
 * are its only landmarks), per workload, from the delayed-interrupt records of each
 * recording (read through src/analysis/). emu's delay is zero by construction: it counts
 * instructions and takes each interrupt at the instruction it falls due.
 *
 *   npm run experiments -- interrupt-delay [--quick]
 */
import { PALETTE, subtitle, unavailableNote, type ChartSpec } from './lib/charts.js';
import type { CellPlan, Figure, FigureTable, Metric } from './lib/figure.js';
import type { LogFacts } from './lib/log-facts.js';
import { ALL_VARIANTS, reproducedFact, rrkitCell } from './lib/rrkit-cells.js';

/** timer-ticks: a 1 kHz timer on a guest that computes without exits; disk-checksum: DMA completions while the driver polls; interrupt-storm: a 50 kHz timer on a guest that reads the clock in a loop. */
const WORKLOADS = ['timer-ticks', 'disk-checksum', 'interrupt-storm'];
const DISK_SECTORS = 8192; // 4 MiB

function cells(quick: boolean): CellPlan[] {
  return [
    ...WORKLOADS.map((workload) => {
      const key = { engine: 'kvm', workload };
      if (workload === 'interrupt-storm') {
        return rrkitCell(key, { engine: 'kvm', workload, small: false, vcpus: 1, variants: ['record'], elf: 'guests/build/x86_64/kvm-tests/interrupt-storm.elf' });
      }
      if (workload === 'disk-checksum') {
        return rrkitCell(key, { engine: 'kvm', workload, small: quick, vcpus: 1, variants: ['record'], diskSectors: quick ? 256 : DISK_SECTORS });
      }
      // The same trial as uniprocessor-overhead's: run once for both.
      return rrkitCell(key, { engine: 'kvm', workload, small: quick, vcpus: 1, variants: ALL_VARIANTS });
    }),
    {
      key: { engine: 'emu', workload: 'every workload' },
      unavailable: 'zero by construction: emu counts instructions and takes every interrupt at the instruction it falls due',
    },
  ];
}

const delays = (log: LogFacts | undefined): number[] | null => (log === undefined ? null : log.interruptDelaysUs);
const quantile = (q: number) => (values: number[] | null): number | null => {
  if (values === null || values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
};
const delayMetric = (column: string, what: string, f: (v: number[] | null) => number | null): Metric => ({
  column,
  unit: `µs, ${what} of one recording's interrupt delays`,
  of: (_v, log) => f(delays(log)),
});

export const INTERRUPT_DELAY_METRICS: Metric[] = [
  { column: 'interrupts', unit: 'delayed-interrupt records in one recording', of: (_v, log) => (log === undefined ? null : log.interruptDelaysUs.length) },
  delayMetric('delay_p50_us', 'median', quantile(0.5)),
  delayMetric('delay_p90_us', '90th percentile', quantile(0.9)),
  delayMetric('delay_p99_us', '99th percentile', quantile(0.99)),
  delayMetric('delay_max_us', 'maximum', (v) => (v === null || v.length === 0 ? null : Math.max(...v))),
];

/** The empirical CDF of `values` at each of `xs`. */
function cdfAt(values: readonly number[], xs: readonly number[]): number[] {
  const sorted = [...values].sort((a, b) => a - b);
  let i = 0;
  return xs.map((x) => {
    while (i < sorted.length && sorted[i]! <= x) i++;
    return i / sorted.length;
  });
}

function chart(table: FigureTable): ChartSpec {
  const datasets: Record<string, unknown>[] = [];
  WORKLOADS.forEach((workload, w) => {
    const cell = table.cells.find((c) => c.key.workload === workload && c.status !== 'unavailable');
    const repeats = (cell?.logs ?? []).map((l) => l.interruptDelaysUs).filter((d) => d.length > 0);
    const pooled = repeats.flat().sort((a, b) => a - b);
    if (pooled.length === 0) return;
    // At most ~200 points per curve: every pooled value when few, else evenly spaced ranks.
    const step = Math.max(1, Math.floor(pooled.length / 200));
    const xs = [...new Set([...pooled.filter((_, i) => i % step === 0), pooled.at(-1)!])];
    const colour = PALETTE[w % PALETTE.length]!;
    const pooledCdf = cdfAt(pooled, xs);
    datasets.push({ label: `${workload} (${pooled.length} interrupts, ${repeats.length} recordings)`, data: xs.map((x, i) => ({ x, y: pooledCdf[i] })), borderColor: colour, backgroundColor: colour, showLine: true, pointRadius: 0, borderWidth: 2, stepped: true });
    if (repeats.length > 1) {
      // The spread over recordings: the lowest and highest of their CDFs at each delay, as a band.
      const perRepeat = repeats.map((r) => cdfAt(r, xs));
      for (const [edge, pick] of [['min', Math.min], ['max', Math.max]] as const) {
        datasets.push({
          label: `${workload} spread (${edge})`,
          data: xs.map((x, i) => ({ x, y: pick(...perRepeat.map((c) => c[i]!)) })),
          borderColor: `${colour}55`,
          backgroundColor: `${colour}22`,
          showLine: true,
          pointRadius: 0,
          borderWidth: 1,
          stepped: true,
          fill: edge === 'max' ? '-1' : false,
        });
      }
    }
  });
  return {
    config: {
      type: 'scatter',
      data: { datasets: datasets as never[] },
      options: {
        plugins: {
          title: { display: true, text: 'kvm: delay from an interrupt falling due to its delivery at a VM exit (CDF per workload)' },
          subtitle: {
            display: true,
            text: [
              `${table.quick ? 'QUICK RUN: not a result — ' : ''}line: all recordings pooled; band: min–max of the recordings' CDFs; emu: zero by construction (not drawn)`,
              unavailableNote(table).replace(/1 cell zero by construction[^;]*;? ?/, ''),
            ].filter((s) => s !== ''),
          },
        },
        scales: {
          x: { title: { display: true, text: 'delay (µs, log scale)' } },
          y: { min: 0, max: 1, title: { display: true, text: 'fraction of interrupts delivered within the delay' } },
        },
      },
    },
    logAxes: ['x'],
    hideFromLegend: 'spread',
  };
}

export const figure: Figure = {
  name: 'interrupt-delay',
  title: 'Interrupt delivery delay on kvm (CDF); zero on emu by construction',
  description:
    'kvm delivers an interrupt only at a VM exit (no PMU to stop the guest at an exact instruction on these machines), and logs how long it waited since it fell due: a delayed-interrupt record, read here through src/analysis/. The CDF per workload pools every recording; the band is the min–max of the recordings\' own CDFs. timer-ticks computes without exits, so its tick waits for the whole computation; interrupt-storm reads the clock (an exit) every few µs; disk-checksum\'s completions wait for the driver\'s next status poll. emu has no delay by construction: it counts instructions and takes each interrupt at the instruction it falls due.',
  repeats: { full: 3, quick: 1 },
  cells,
  metrics: INTERRUPT_DELAY_METRICS,
  facts: (repeats) => ({ reproduced: reproducedFact(repeats) }),
  scansLogs: true,
  chart,
};
