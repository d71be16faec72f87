/**
 * `npm run experiments [-- NAME...] [--quick] [--out DIR] [--repeats N] [--cell K=V,...]`: the
 * figures, every one or the named ones, into results/NAME.{csv,json,png} (or DIR).
 *
 * Each figure declares its cells; each cell's trial runs once per repeat in a process of its
 * own (a crash, a hang or a guest fault is a failed cell and the sweep goes on), one trial at
 * a time so that no two timed runs share the cores; repeats are rounds over all cells, so
 * that load on the machine falls on every cell alike; trials that several figures list run
 * once. Then the untimed work — log scans and charts — runs in a piscina pool. Tables give
 * the median and min–max of every metric; charts draw them as bars and whiskers.
 * `--quick`: small workloads, one repeat (CI; not results).
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
// node-canvas (under chartjs-node-canvas) is a native module that is not context-aware: loaded
// first in a pool thread, tearing that thread down crashes the process (SIGSEGV). Loaded here
// first, in the main thread, it stays loaded for the threads and they end cleanly.
import 'canvas';
import { Piscina } from 'piscina';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { parseCellFilter, selectCells, type CellFilter } from './lib/cell-filter.js';
import type { CellResult, CellStatus, Figure, FigureTable } from './lib/figure.js';
import type { LogFacts } from './lib/log-facts.js';
import type { PoolTask } from './lib/pool-worker.js';
import { Progress } from './lib/progress.js';
import { FIGURE_NAMES, loadFigure, type LoadedFigure } from './lib/registry.js';
import { cellResult, writeTable } from './lib/tables.js';
import { bundleTrialProgram, killRunningTrials, runTrialProcess, type TrialOutcome } from './lib/trial-process.js';
import { resultsDir as resultsDirectory } from './lib/results.js';
import { trialKey, trialLabel, type TrialSpec } from './lib/trial-spec.js';

const argv = await yargs(hideBin(process.argv))
  .scriptName('npm run experiments --')
  .usage('$0 [NAME...] [--quick] [--out DIR]')
  .positional('NAME', { describe: `figures (default: all): ${FIGURE_NAMES.join(', ')}; or the path of a figure module` })
  .option('quick', { type: 'boolean', default: false, describe: 'small workloads, one repeat: checks the pipeline (CI), not results' })
  .option('out', { type: 'string', describe: 'where the results go (default: results/)' })
  .option('repeats', { type: 'number', describe: 'repeats per cell instead of each figure’s own' })
  .option('cell', {
    type: 'string',
    array: true,
    describe: 'only the cells whose key has these values, e.g. engine=emu,workload=radix-sort,vcpus=4 (repeat for more); needs --out',
  })
  .option('list', { type: 'boolean', default: false, describe: 'print the trials each figure would run, and stop' })
  .strictOptions()
  .help()
  .fail((message, error) => {
    process.stderr.write(`experiments: ${error?.message ?? message}\n`);
    process.exit(2);
  })
  .parseAsync();

const quick = argv.quick;
if (argv.out !== undefined) process.env.RRKIT_RESULTS_DIR = resolve(argv.out);
if (argv.repeats !== undefined && !(Number.isInteger(argv.repeats) && argv.repeats >= 1)) {
  process.stderr.write(`experiments: --repeats must be a whole number ≥ 1, not ${argv.repeats}\n`);
  process.exit(2);
}
let cellFilters: CellFilter[];
try {
  cellFilters = (argv.cell ?? []).map(parseCellFilter);
} catch (error) {
  process.stderr.write(`experiments: ${(error as Error).message}\n`);
  process.exit(2);
}
// A few cells make a partial table: it must not overwrite a whole figure in results/.
if (cellFilters.length > 0 && argv.out === undefined && !argv.list) {
  process.stderr.write('experiments: --cell writes tables of only the chosen cells: give --out DIR so that results/ keeps the whole figures\n');
  process.exit(2);
}
const names = argv._.length > 0 ? argv._.map(String) : [...FIGURE_NAMES];
let figures: LoadedFigure[];
try {
  figures = await Promise.all(names.map((name) => loadFigure(name)));
} catch (error) {
  process.stderr.write(`experiments: ${(error as Error).message}\n`);
  process.exit(2);
}

// --- the plan: every figure's cells, their trials per repeat, identical trials once ------
interface Job {
  key: string;
  spec: TrialSpec;
  repeat: number;
  outcome?: TrialOutcome;
}
interface PlannedCell {
  plan: ReturnType<Figure['cells']>[number];
  jobs: Job[];
}
interface PlannedFigure {
  loaded: Extract<LoadedFigure, { kind: 'declared' | 'script' }>;
  repeats: number;
  cells: PlannedCell[];
}

const jobsByKey = new Map<string, Job>();
const jobOf = (spec: TrialSpec, repeat: number): Job => {
  const key = `${trialKey(spec)}#${repeat}`;
  let job = jobsByKey.get(key);
  if (job === undefined) jobsByKey.set(key, (job = { key: trialKey(spec), spec, repeat }));
  return job;
};

const planned: PlannedFigure[] = [];
for (const loaded of figures) {
  if (loaded.kind === 'missing') continue;
  if (loaded.kind === 'script') {
    const spec: TrialSpec = { kind: 'script', script: loaded.module, quick };
    planned.push({ loaded, repeats: 1, cells: [{ plan: { key: {}, trial: spec }, jobs: [jobOf(spec, 0)] }] });
    continue;
  }
  const { figure } = loaded;
  const repeats = argv.repeats ?? (quick ? figure.repeats.quick : figure.repeats.full);
  const cells = selectCells(figure.cells(quick), cellFilters).map((plan) => ({
    plan,
    jobs: plan.trial === undefined ? [] : Array.from({ length: repeats }, (_, r) => jobOf(plan.trial!, r)),
  }));
  planned.push({ loaded, repeats, cells });
}
// Rounds: repeat 0 of every trial, then repeat 1…, so that each round sees the same load.
const jobs = [...jobsByKey.values()].sort((a, b) => a.repeat - b.repeat);

if (argv.list) {
  for (const p of planned) {
    process.stdout.write(`${p.loaded.name}: ${p.cells.length} cells × ${p.repeats} repeats\n`);
    for (const c of p.cells) process.stdout.write(`  ${c.plan.trial === undefined ? `(${c.plan.unavailable})` : trialLabel(c.plan.trial)}\n`);
  }
  process.stdout.write(`${jobs.length} trials in all (shared trials counted once)\n`);
  process.exit(0);
}

// --- the timed part: one trial at a time ------------------------------------------------
const runDir = mkdtempSync(join(tmpdir(), 'rrkit-experiments-'));
// Interrupted: the running trial goes too (it is in its own process group), and its files.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    killRunningTrials();
    rmSync(runDir, { recursive: true, force: true });
    process.stderr.write(`\nexperiments: interrupted (${signal}); nothing written for the figures not finished\n`);
    process.exit(signal === 'SIGINT' ? 130 : 143);
  });
}
const resultsDir = resultsDirectory();
mkdirSync(resultsDir, { recursive: true });
let exitCode = 0;
try {
  await bundleTrialProgram();
  const progress = new Progress(jobs);
  for (const [index, job] of jobs.entries()) {
    const label = `${trialLabel(job.spec)} (repeat ${job.repeat + 1})`;
    progress.starting(index, label);
    const owner = planned.find((p) => p.cells.some((c) => c.jobs.includes(job)))?.loaded;
    const timeoutSeconds = (owner?.kind === 'declared' ? owner.figure.trialTimeoutSeconds : undefined) ?? 600;
    job.outcome = await runTrialProcess(job.spec, join(runDir, String(index)), timeoutSeconds, resultsDir);
    progress.finished(index, label, job.outcome.seconds, job.outcome.ok ? undefined : job.outcome.error, job.outcome.ok ? job.outcome.values.trialCpuSeconds : undefined);
  }
  progress.end();

  // --- the untimed part: log scans, then tables and charts, in the pool -----------------
  const pool = new Piscina<PoolTask, LogFacts | number>({
    filename: new URL('./lib/pool-worker.ts', import.meta.url).href,
    maxThreads: Math.max(1, availableParallelism()),
  });
  try {
    const facts = new Map<Job, Promise<LogFacts>>();
    for (const p of planned) {
      if (p.loaded.kind !== 'declared' || p.loaded.figure.scansLogs !== true) continue;
      for (const c of p.cells)
        for (const job of c.jobs) {
          const path = job.outcome?.ok === true ? job.outcome.values.logPath : undefined;
          if (typeof path === 'string' && !facts.has(job)) facts.set(job, pool.run({ kind: 'log-facts', path }) as Promise<LogFacts>);
        }
    }
    const charts: Promise<unknown>[] = [];
    for (const p of planned) {
      if (p.loaded.kind === 'script') {
        const outcome = p.cells[0]!.jobs[0]!.outcome!;
        if (!outcome.ok) exitCode = 1;
        process.stdout.write(`${p.loaded.name}: ${outcome.ok ? `written by ${p.loaded.module}` : `FAILED: ${outcome.error}`}\n`);
        continue;
      }
      const { figure } = p.loaded;
      const cells: CellResult[] = [];
      for (const c of p.cells) cells.push(await cellResult(figure, c, facts));
      const table: FigureTable = { name: figure.name, quick, repeats: p.repeats, cells };
      writeTable(figure, table);
      charts.push(pool.run({ kind: 'chart', chart: figure.chart(table), pngPath: join(resultsDir, `${figure.name}.png`) }));
      const count = (s: CellStatus): number => cells.filter((c) => c.status === s).length;
      if (count('failed') + count('partial') > 0) exitCode = 1;
      process.stdout.write(
        `${figure.name}: ${count('ok')} cells measured, ${count('failed')} failed, ${count('partial')} partly failed, ${count('unavailable')} not measured → ${join(resultsDir, figure.name)}.{csv,json,png}\n`,
      );
      for (const cell of cells.filter((x) => x.status === 'failed' || x.status === 'partial'))
        process.stdout.write(`  ${cell.status.toUpperCase()} ${Object.values(cell.key).join(' ')}: ${cell.message}\n`);
    }
    await Promise.all(charts);
  } finally {
    await pool.destroy();
  }
  for (const loaded of figures) if (loaded.kind === 'missing') process.stdout.write(`${loaded.name}: ${loaded.reason}\n`);
} finally {
  rmSync(runDir, { recursive: true, force: true });
}
process.exitCode = exitCode;
