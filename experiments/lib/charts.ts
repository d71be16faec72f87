/**
 * Chart.js through chartjs-node-canvas, and what every figure's chart shares: error bars
 * from min to max (Chart.js has none of its own), log axes that label only 1, 2 and 5 per
 * decade (all nine overlap), a fixed palette, and the cells' series taken from a table.
 */
import type { Chart, ChartConfiguration, Plugin } from 'chart.js';
import { ChartJSNodeCanvas } from 'chartjs-node-canvas';
import { findCell, type CellKey, type FigureTable } from './figure.js';

export const WIDTH = 1100;
export const HEIGHT = 560;
// Ten distinct hues, then five darker ones: smp-overhead draws eleven series (emu at 1–64 vCPUs, kvm at 1–8).
export const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf', '#0b3c5d', '#8a3b00', '#14561a', '#6b0f10', '#3f2a5c'];

let canvas: ChartJSNodeCanvas | undefined;

export async function renderChart(configuration: ChartConfiguration): Promise<Buffer> {
  canvas ??= new ChartJSNodeCanvas({ width: WIDTH, height: HEIGHT, backgroundColour: 'white' });
  return canvas.renderToBuffer(configuration);
}

/**
 * A chart as data, so that it crosses into the pool's threads (functions do not): the
 * Chart.js configuration without plugins or callbacks, the whiskers per dataset, and which
 * axes are logarithmic (they get logTickLabel).
 */
export interface ChartSpec {
  config: ChartConfiguration;
  errorBars?: ErrorRanges;
  logAxes?: readonly string[];
  /** datasets whose label contains this are drawn but left out of the legend */
  hideFromLegend?: string;
}

/** The Chart.js configuration a ChartSpec stands for: the whiskers' plugin and the log axes' labels added. */
export function chartConfiguration(spec: ChartSpec): ChartConfiguration {
  const config = structuredClone(spec.config);
  const scales = (config.options ??= {}).scales ?? {};
  for (const axis of spec.logAxes ?? []) {
    const scale = (scales[axis] ??= {}) as { type?: string; ticks?: { callback?: (value: number | string) => string; autoSkip?: boolean } };
    scale.type = 'logarithmic';
    scale.ticks = { ...scale.ticks, callback: logTickLabel, autoSkip: false };
  }
  config.options.scales = scales;
  const hide = spec.hideFromLegend;
  if (hide !== undefined) {
    const plugins = (config.options.plugins ??= {});
    const legend = (plugins.legend ??= {});
    legend.labels = { ...legend.labels, filter: (item) => !item.text.includes(hide) };
  }
  if (spec.errorBars !== undefined) config.plugins = [...(config.plugins ?? []), errorBarsPlugin(spec.errorBars)];
  const subtitle = config.options.plugins?.subtitle;
  if (subtitle?.text !== undefined) {
    const lines = typeof subtitle.text === 'string' ? [subtitle.text] : [...subtitle.text];
    subtitle.text = lines.flatMap((line) => (line === undefined ? [] : wrapLine(line)));
  }
  return config;
}

/** Characters of 12 px sans that fit across the chart with a margin. */
const LINE_CHARS = Math.floor(WIDTH / 6.6);

/**
 * A long title line as several, broken after '; ' or ', ' (Chart.js centres each line and
 * clips what is wider than the canvas: smp-overhead's list of unmeasured cells lost its start).
 */
export function wrapLine(line: string, width = LINE_CHARS): string[] {
  const lines: string[] = [];
  let rest = line;
  while (rest.length > width) {
    const window = rest.slice(0, width);
    const cut = Math.max(window.lastIndexOf('; '), window.lastIndexOf(', '));
    const at = cut > width / 3 ? cut + 2 : width;
    lines.push(rest.slice(0, at).trimEnd());
    rest = rest.slice(at);
  }
  if (rest !== '' || lines.length === 0) lines.push(rest);
  return lines;
}

/** [min, max] per data point of each dataset, by dataset index; null where there is no bar. */
export type ErrorRanges = (readonly [number, number] | null)[][];

/** Draws each point's min–max as a vertical whisker with caps, over bars and line points alike. */
export function errorBarsPlugin(ranges: ErrorRanges): Plugin {
  return {
    id: 'rrkitErrorBars',
    afterDatasetsDraw(chart: Chart) {
      const { ctx } = chart;
      const y = chart.scales.y;
      if (y === undefined) return;
      ctx.save();
      ctx.strokeStyle = '#222';
      ctx.lineWidth = 1.2;
      ranges.forEach((points, datasetIndex) => {
        const meta = chart.getDatasetMeta(datasetIndex);
        if (meta.hidden) return;
        points.forEach((range, i) => {
          const element = meta.data[i];
          if (range === null || element === undefined) return;
          const x = element.x;
          const top = y.getPixelForValue(range[1]);
          const bottom = y.getPixelForValue(range[0]);
          ctx.beginPath();
          ctx.moveTo(x, top);
          ctx.lineTo(x, bottom);
          ctx.moveTo(x - 3, top);
          ctx.lineTo(x + 3, top);
          ctx.moveTo(x - 3, bottom);
          ctx.lineTo(x + 3, bottom);
          ctx.stroke();
        });
      });
      ctx.restore();
    },
  };
}

/** 0.5, 20, 1,000, then 20K, 5M: short enough that ticks never crowd. */
const number = (v: number): string =>
  v.toLocaleString('en-US', v >= 10_000 ? { notation: 'compact', maximumSignificantDigits: 3 } : { maximumSignificantDigits: 3 });

/** A log axis's tick labels: 1, 2 and 5 of each decade only, so that labels never overlap. */
export function logTickLabel(value: number | string): string {
  const v = Number(value);
  if (!(v > 0)) return '';
  const mantissa = v / 10 ** Math.floor(Math.log10(v) + 1e-9);
  return [1, 2, 5].some((m) => Math.abs(mantissa - m) < 1e-6) ? number(v) : '';
}

/** One series of a bar or line chart: each label's cell's median of `metric`, and its min–max. */
export function series(
  table: FigureTable,
  metric: string,
  keys: readonly CellKey[],
): { data: (number | null)[]; ranges: (readonly [number, number] | null)[] } {
  const spreads = keys.map((key) => findCell(table, key)?.metrics[metric] ?? null);
  return {
    data: spreads.map((s) => s?.median ?? null),
    ranges: spreads.map((s) => (s === null || s.n < 2 ? null : ([s.min, s.max] as const))),
  };
}

/** The title line every chart ends with: what the bars and whiskers are, and a quick run labelled as one. */
export function subtitle(table: FigureTable, extra = ''): string {
  const spread = table.repeats > 1 ? `bars/points: median of ${table.repeats} repeats, whiskers: min–max` : '1 repeat, no spread';
  const quick = table.quick ? 'QUICK RUN (small workloads, 1 repeat): checks the pipeline, not a result — ' : '';
  return `${quick}${spread}${extra === '' ? '' : `; ${extra}`}`;
}

/** The cells the table could not measure, as one line under a chart: "n/a: kvm 2 vCPUs (not available on this commit)". */
export function unavailableNote(table: FigureTable): string {
  const reasons = new Map<string, number>();
  for (const c of table.cells) if (c.status === 'unavailable') reasons.set(c.message, (reasons.get(c.message) ?? 0) + 1);
  const failed = table.cells.filter((c) => c.status === 'failed').length;
  const stopped = table.cells.filter((c) => (c.facts['record_stopped'] ?? '') !== '');
  const parts = [...reasons].map(([reason, n]) => `${n} cell${n === 1 ? '' : 's'} ${reason}`);
  if (failed > 0) parts.push(`${failed} cell${failed === 1 ? '' : 's'} FAILED (see the CSV)`);
  if (stopped.length > 0) {
    const which = stopped.map((c) => Object.values(c.key).join(' ')).join(', ');
    parts.push(`recordings stopped at their time budget, bars are lower bounds: ${which}`);
  }
  return parts.join('; ');
}
