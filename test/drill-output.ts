/**
 * What every clock-poll failover drill must show, whichever way it was run (lease store,
 * network namespace): the guest's numbered lines each exactly once and in order, its result
 * line last, exit code 0, and no gap in what the relay wrote.
 */
import { expect } from 'vitest';
import type { DrillReport } from '../src/replication/drill.js';

/** clock-poll prints this many numbered lines, one every 5 ms. */
export const CLOCK_POLL_LINES = 400;

export function expectEveryLineOnce(report: DrillReport, log: string): void {
  const text = report.output.toString('utf8');
  const numbers = text.split('\n').filter((l) => l.startsWith('line ')).map((l) => Number(l.slice(5)));
  expect(numbers, log).toEqual(Array.from({ length: CLOCK_POLL_LINES }, (_, i) => i + 1));
  expect(text.endsWith(`clock-poll: ok lines=${CLOCK_POLL_LINES} backwards=0\n`), log).toBe(true);
  expect(report.exitCode, log).toBe(0);
  expect(report.gapBytes, log).toBe(0);
}
