/** Writes an experiment's data (CSV and JSON) and its chart (PNG) into results/. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg, cpus } from 'node:os';
import { join } from 'node:path';
import { ChartJSNodeCanvas } from 'chartjs-node-canvas';
import type { ChartConfiguration } from 'chart.js';
import { repoRoot } from '../../src/native.js';

export const RESULTS_DIR = join(repoRoot, 'results');

type Cell = string | number | bigint;

function csvCell(value: Cell): string {
  const text = String(value);
  return /[",\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** results/NAME.csv and results/NAME.json (with the machine it ran on); returns the paths. */
export function writeData(name: string, rows: readonly Record<string, Cell>[], notes: Record<string, unknown> = {}): string[] {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const columns = Object.keys(rows[0] ?? {});
  const csv = [columns.join(','), ...rows.map((row) => columns.map((c) => csvCell(row[c] ?? '')).join(','))].join('\n');
  const csvPath = join(RESULTS_DIR, `${name}.csv`);
  writeFileSync(csvPath, `${csv}\n`);
  const jsonPath = join(RESULTS_DIR, `${name}.json`);
  const machine = { cpus: cpus().length, cpuModel: cpus()[0]?.model, loadAverageAtEnd: loadavg(), node: process.version };
  const json = JSON.stringify({ name, date: new Date().toISOString(), machine, ...notes, rows }, (_k, v: unknown) =>
    typeof v === 'bigint' ? v.toString() : v, 2);
  writeFileSync(jsonPath, `${json}\n`);
  return [csvPath, jsonPath];
}

/** results/NAME.png from a Chart.js configuration; returns the path. */
export async function writeChart(name: string, configuration: ChartConfiguration): Promise<string> {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const canvas = new ChartJSNodeCanvas({ width: 1000, height: 520, backgroundColour: 'white' });
  const png = await canvas.renderToBuffer(configuration);
  const path = join(RESULTS_DIR, `${name}.png`);
  writeFileSync(path, png);
  return path;
}
