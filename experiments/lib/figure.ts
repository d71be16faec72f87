/**
 * A figure, declared: the cells it measures (each a trial spec, run once per repeat in a
 * process of its own), the metrics it takes from each repeat, and how it draws its table.
 * The runner (experiments/run.ts) does the rest: runs, failures, spread, files.
 */
import type { ChartSpec } from './charts.js';
import type { LogFacts } from './log-facts.js';
import type { Spread } from './stats.js';
import type { TrialSpec, TrialValues } from './trial-spec.js';

export type CellKey = Record<string, string | number>;

export interface CellPlan {
  /** the columns that name the cell: engine, workload, vCPUs… */
  key: CellKey;
  /** what to run in each repeat; absent when the cell cannot be measured (then `unavailable` says why) */
  trial?: TrialSpec;
  /** why there is no measurement: "not available on this commit: …", "not measured here: …", "zero by construction: …" */
  unavailable?: string;
}

export interface Metric {
  /** the CSV's column stem: NAME_median, NAME_min, NAME_max */
  column: string;
  /** the unit, written into the column's description in the JSON and onto axes */
  unit: string;
  /** one repeat's value; null when this repeat does not give it (the cell's text says why) */
  of(values: TrialValues, log: LogFacts | undefined): number | null;
}

export interface Figure {
  name: string;
  title: string;
  /** what the figure shows and how to read it (the JSON, results/README.md) */
  description: string;
  repeats: { full: number; quick: number };
  cells(quick: boolean): CellPlan[];
  metrics: readonly Metric[];
  /** text columns from a cell's repeats (a refusal, whether every replay reproduced the run) */
  facts?(repeats: readonly TrialValues[], logs: readonly LogFacts[]): Record<string, string>;
  /** scan each repeat's kept log in the analysis pool (LogFacts) */
  scansLogs?: boolean;
  /** the chart as data (drawn in the analysis pool) */
  chart(table: FigureTable): ChartSpec;
  /** a trial's timeout in seconds (default 600) */
  trialTimeoutSeconds?: number;
  /** constants the figure depends on, for the JSON */
  notes?: Record<string, unknown>;
}

export type CellStatus = 'ok' | 'failed' | 'partial' | 'unavailable';

export interface CellResult {
  key: CellKey;
  status: CellStatus;
  /** failures (one line per failed repeat) or why the cell is unavailable; empty when ok */
  message: string;
  /** repeats whose trial succeeded */
  okRepeats: number;
  metrics: Record<string, Spread | null>;
  facts: Record<string, string>;
  /** per ok repeat: the log's facts when the figure scans logs */
  logs: LogFacts[];
}

export interface FigureTable {
  name: string;
  quick: boolean;
  repeats: number;
  cells: CellResult[];
}

/** The cell whose key has these values (for charts). */
export function findCell(table: FigureTable, key: CellKey): CellResult | undefined {
  return table.cells.find((c) => Object.entries(key).every(([k, v]) => c.key[k] === v));
}
