/** What a measured micro benchmark row must hold (test/bench-micro.test.ts, test/kvm/bench-micro-kvm.test.ts). */
import { expect } from 'vitest';
import type { MicroMeasured } from '../bench/micro.js';

export function expectMeasured(row: unknown): asserts row is MicroMeasured {
  const r = row as MicroMeasured;
  expect(r, JSON.stringify(row)).not.toHaveProperty('notMeasured');
  for (const value of [r.meanNs, r.p75Ns, r.p99Ns, r.batch, r.samples]) {
    expect(Number.isFinite(value) && value > 0, `${r.name}: ${JSON.stringify(row)}`).toBe(true);
  }
  expect(r.p99Ns).toBeGreaterThanOrEqual(r.p75Ns);
}
