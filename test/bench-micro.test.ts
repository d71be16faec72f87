/**
 * `npm run bench -- micro` at a tiny size: every C++ row (log append, permission check, state
 * hashes, ownership round trip) comes out with finite positive numbers; the bench exports
 * refuse bad batch sizes; the command refuses bad options before it measures anything.
 * The kvm rows are checked where /dev/kvm is: test/kvm/bench-micro-kvm.test.ts.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { benchMicro, formatMicro } from '../bench/micro.js';
import { native, repoRoot } from '../src/native.js';
import { expectMeasured } from './micro-rows.js';

const NATIVE_ROWS = [
  'log append (clock input record)',
  'CREW permission check (fast path)',
  'state hash, emu RAM',
  'state hash, kvm RAM',
  'ownership transfer round trip (2 threads)',
];

describe('micro benchmarks', () => {
  it('measures every C++ row at a tiny size, in ns per operation', async () => {
    const rows = await benchMicro({ quick: true, kvm: false });
    expect(rows.map((r) => r.name)).toEqual(NATIVE_ROWS);
    for (const row of rows) {
      expectMeasured(row);
      expect(row.samples).toBe(2);
    }
    const table = formatMicro(rows);
    for (const name of NATIVE_ROWS) expect(table).toContain(name);
  });

  it('each bench export times the batch it was given', () => {
    const addon = native();
    expect(addon.benchLogAppend(50).operations).toBe(50);
    expect(addon.benchPermissionCheck(1000).operations).toBe(1000);
    expect(addon.benchEmuStateHash(2).operations).toBe(2);
    expect(addon.benchKvmStateHash(2).operations).toBe(2);
    // At least the round trips asked for (the last transfer may overshoot by one).
    expect(addon.benchOwnershipRoundTrip(10).operations).toBeGreaterThanOrEqual(10);
    for (const timing of [addon.benchLogAppend(50), addon.benchOwnershipRoundTrip(5)]) expect(timing.ns).toBeGreaterThan(0);
  });

  it('the bench exports refuse a batch that is not a whole number from 1', () => {
    const addon = native();
    expect(() => addon.benchLogAppend(0)).toThrow(RangeError);
    expect(() => addon.benchEmuStateHash(1.5)).toThrow(/whole number/);
    expect(() => addon.benchPermissionCheck('10' as unknown as number)).toThrow(TypeError);
    expect(() => addon.benchKvmStateHash(1e9)).toThrow(/out of range/);
  });

  it('npm run bench refuses bad options with one line, before measuring', () => {
    const bench = (...args: string[]) =>
      spawnSync(process.execPath, ['--import', 'tsx', 'bench/index.ts', ...args], { cwd: repoRoot, encoding: 'utf8' });
    for (const [args, message] of [
      [['micro', '--json'], /^bench: --json needs a file name;/],
      [['micro', '--fast'], /^bench: unknown option --fast;/],
      [['--quick', 'emu'], /^bench: --quick and --json are for the micro section: name it;/],
      [['mikro'], /^bench: unknown section mikro;/],
    ] as const) {
      const result = bench(...args);
      expect(result.status, result.stderr).toBe(2);
      expect(result.stderr).toMatch(message);
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
      expect(result.stdout).toBe('');
    }
  });
});
