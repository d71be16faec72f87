/**
 * Writes a figure's data (NAME.csv, NAME.json with the run's metadata) and its chart
 * (NAME.png) into results/ (or RRKIT_RESULTS_DIR). Scripts that make their own figure
 * (experiments/failover.ts) call writeData and writeChart; the runner calls them too.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem, type as osType, version as osVersion } from 'node:os';
import { join } from 'node:path';
import type { ChartConfiguration } from 'chart.js';
import { kvmBenchContext } from '../../bench/kvm.js';
import { repoRoot } from '../../src/native.js';
import { renderChart } from './charts.js';
import { qemuVersion } from './trial-kinds.js';

/** results/, or where RRKIT_RESULTS_DIR says (the runner's --out; tests). */
export function resultsDir(): string {
  return process.env.RRKIT_RESULTS_DIR ?? join(repoRoot, 'results');
}
/** @deprecated the directory at import time; use resultsDir() */
export const RESULTS_DIR = resultsDir();

type Cell = string | number | bigint | boolean | null;

function csvCell(value: Cell | undefined): string {
  const text = value === null || value === undefined ? '' : String(value);
  return /[",\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

function git(...args: string[]): string | null {
  try {
    return execFileSync('git', ['-C', repoRoot, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return null;
  }
}

/** The command that made a figure, as it was typed where we can tell (npm run experiments -- …). */
function commandLine(): string {
  const args = process.argv.slice(2).join(' ');
  if (process.env.npm_lifecycle_event === 'experiments') return `npm run experiments${args === '' ? '' : ` -- ${args}`}`;
  return ['npx tsx', ...process.argv.slice(1).map((a) => a.replace(`${repoRoot}/`, ''))].join(' ');
}

/** Where, when, by what and from which code: every results JSON carries it. */
export function runMetadata(): Record<string, unknown> {
  const { version } = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string };
  const packageVersion = (name: string): string | null => {
    try {
      return (JSON.parse(readFileSync(join(repoRoot, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
    } catch {
      return null;
    }
  };
  const kvm = kvmBenchContext();
  // Changes to the code, not to results/ (which a run rewrites).
  const dirty = git('status', '--porcelain', '--untracked-files=no', '--', '.', ':(exclude)results');
  return {
    date: new Date().toISOString(),
    command: commandLine(),
    commit: git('rev-parse', 'HEAD'),
    workTreeChanged: dirty === null ? null : dirty !== '',
    machine: {
      cpuModel: cpus()[0]?.model ?? null,
      cpus: cpus().length,
      memoryGiB: Math.round(totalmem() / 2 ** 30),
      kernel: `${osType()} ${release()} ${osVersion()}`,
      kvm: kvm.usable ? `${kvm.backend}${kvm.comparable ? '' : ` (${kvm.reason})`}` : `none: ${kvm.reason}`,
      loadAverageAtEnd: loadavg(),
    },
    versions: {
      rrkit: version,
      node: process.version,
      qemu: qemuVersion(),
      chartjs: packageVersion('chart.js'),
      chartjsNodeCanvas: packageVersion('chartjs-node-canvas'),
    },
  };
}

function toCsv(rows: readonly Record<string, Cell>[]): string {
  const columns = [...new Set(rows.flatMap((row) => Object.keys(row)))];
  return [columns.join(','), ...rows.map((row) => columns.map((c) => csvCell(row[c])).join(','))].join('\n');
}

/** NAME.csv and NAME.json (the run's metadata, then `notes`, then the rows); returns the paths. */
export function writeData(name: string, rows: readonly Record<string, Cell>[], notes: Record<string, unknown> = {}): string[] {
  const dir = resultsDir();
  mkdirSync(dir, { recursive: true });
  const csvPath = join(dir, `${name}.csv`);
  writeFileSync(csvPath, `${toCsv(rows)}\n`);
  const jsonPath = join(dir, `${name}.json`);
  const json = JSON.stringify({ name, ...runMetadata(), ...notes, rows }, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2);
  writeFileSync(jsonPath, `${json}\n`);
  return [csvPath, jsonPath];
}

/** NAME.png from a Chart.js configuration; returns the path. */
export async function writeChart(name: string, configuration: ChartConfiguration): Promise<string> {
  const dir = resultsDir();
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${name}.png`);
  writeFileSync(path, await renderChart(configuration));
  return path;
}
