/**
 * A figure's table from its trials' outcomes: per cell the median and min–max of every
 * metric over the repeats that succeeded, and a status (ok, failed, partial, unavailable)
 * with the reason — a failed or unavailable cell is a row that says so, never a gap.
 */
import type { CellPlan, CellResult, CellStatus, Figure, FigureTable } from './figure.js';
import type { LogFacts } from './log-facts.js';
import { writeData } from './results.js';
import { spreadOf } from './stats.js';
import type { TrialOutcome } from './trial-process.js';
import type { TrialValues } from './trial-spec.js';


export async function cellResult<J extends { repeat: number; outcome?: TrialOutcome }>(
  figure: Figure,
  cell: { plan: CellPlan; jobs: J[] },
  facts: Map<J, Promise<LogFacts>>,
): Promise<CellResult> {
  const { plan, jobs: cellJobs } = cell;
  if (plan.trial === undefined) {
    return { key: plan.key, status: 'unavailable', message: plan.unavailable ?? 'not measured', okRepeats: 0, metrics: {}, facts: {}, logs: [] };
  }
  const ok: { values: TrialValues; log: LogFacts | undefined }[] = [];
  const errors: string[] = [];
  for (const job of cellJobs) {
    const outcome = job.outcome!;
    if (!outcome.ok) {
      errors.push(`repeat ${job.repeat + 1}: ${outcome.error}`);
      continue;
    }
    let log: LogFacts | undefined;
    try {
      log = await facts.get(job);
    } catch (error) {
      errors.push(`repeat ${job.repeat + 1}: reading its log: ${(error as Error).message}`);
      continue;
    }
    ok.push({ values: outcome.values, log });
  }
  const metrics = Object.fromEntries(
    figure.metrics.map((m) => [m.column, spreadOf(ok.map((r) => m.of(r.values, r.log)).filter((v): v is number => v !== null))]),
  );
  const status: CellStatus = errors.length === 0 ? 'ok' : ok.length === 0 ? 'failed' : 'partial';
  return {
    key: plan.key,
    status,
    message: [...new Set(errors)].join('; '),
    okRepeats: ok.length,
    metrics,
    facts: figure.facts?.(ok.map((r) => r.values), ok.flatMap((r) => (r.log === undefined ? [] : [r.log]))) ?? {},
    logs: ok.flatMap((r) => (r.log === undefined ? [] : [r.log])),
  };
}

function significant(v: number): number {
  return Number(v.toPrecision(4));
}

/** NAME.csv and NAME.json: per cell its key, status, each metric's median, min and max, its facts. */
export function writeTable(figure: Figure, table: FigureTable): void {
  const rows = table.cells.map((cell) => {
    const row: Record<string, string | number | null> = {
      // A quick run's CSV says so on every row: a file copied on its own is still labelled.
      ...(table.quick ? { run: 'QUICK (small workloads, 1 repeat): not a result' } : {}),
      ...cell.key,
      status: cell.status === 'unavailable' ? cell.message : cell.status,
    };
    for (const m of figure.metrics) {
      const s = cell.metrics[m.column] ?? null;
      row[`${m.column}_median`] = s === null ? null : significant(s.median);
      row[`${m.column}_min`] = s === null ? null : significant(s.min);
      row[`${m.column}_max`] = s === null ? null : significant(s.max);
    }
    row.repeats_ok = cell.status === 'unavailable' ? 0 : cell.okRepeats;
    Object.assign(row, cell.facts);
    if (cell.status === 'failed' || cell.status === 'partial') row.error = cell.message;
    return row;
  });
  writeData(figure.name, rows, {
    title: figure.title,
    description: figure.description,
    quick: table.quick,
    ...(table.quick ? { warning: 'a --quick run: small workloads, one repeat; it checks the pipeline and is not a result' } : {}),
    repeats: table.repeats,
    columns: Object.fromEntries(figure.metrics.map((m) => [m.column, `${m.unit}; _median, _min and _max over the repeats`])),
    ...(figure.notes ?? {}),
  });
}
