/**
 * The analysis pool's worker (piscina): the untimed work of a run — reading kept logs and
 * drawing charts — on every core once the timed trials are done.
 */
import { writeFileSync } from 'node:fs';
import { chartConfiguration, renderChart, type ChartSpec } from './charts.js';
import { logFacts, type LogFacts } from './log-facts.js';

export type PoolTask =
  | { kind: 'log-facts'; path: string }
  | { kind: 'chart'; chart: ChartSpec; pngPath: string };

export default async function poolTask(task: PoolTask): Promise<LogFacts | number> {
  if (task.kind === 'log-facts') return logFacts(task.path);
  const png = await renderChart(chartConfiguration(task.chart));
  writeFileSync(task.pngPath, png);
  return png.length;
}
