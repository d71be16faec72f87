/**
 * `npm run bench -- micro --quick --json FILE` on /dev/kvm: every row, the kvm exits plain
 * and recording included, with finite positive numbers, in the table and in the JSON. Like
 * every file under test/kvm/, it fails without a usable /dev/kvm (machines without run it
 * inside the sandbox, test/kvm-sandbox).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { microBenchSection, type MicroRow } from '../../bench/micro.js';
import { kvmAvailability } from '../../src/engines/kvm.js';
import { expectMeasured } from '../micro-rows.js';

it('micro --quick measures every row, kvm exits included, into the table and the JSON', async () => {
  const kvm = kvmAvailability();
  expect(kvm.available, kvm.reason).toBe(true);
  const dir = mkdtempSync(join(tmpdir(), 'rrkit-bench-micro-test-'));
  try {
    const json = join(dir, 'micro.json');
    const table = await microBenchSection({ quick: true, json, command: 'test' });
    const written = JSON.parse(readFileSync(json, 'utf8')) as { quick: boolean; rows: MicroRow[] };
    expect(written.quick).toBe(true);
    expect(written.rows.map((r) => r.name)).toEqual([
      'log append (clock input record)',
      'CREW permission check (fast path)',
      'state hash, emu RAM',
      'state hash, kvm RAM',
      'ownership transfer round trip (2 threads)',
      'kvm exit (plain run)',
      'kvm exit (recording)',
    ]);
    for (const row of written.rows) {
      expectMeasured(row);
      expect(table).toContain(row.name);
    }
    // One exit is microseconds, not nanoseconds, on any KVM: a check that ns are ns.
    for (const row of written.rows.slice(5)) if (!('notMeasured' in row)) expect(row.meanNs).toBeGreaterThan(100);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
