/**
 * `npm run experiments`: the runner with --quick on a real figure (its CSV columns, its
 * JSON's metadata, a PNG), and on a fixture figure whose trials fail in different ways —
 * each a row that says so, the sweep going on, the exit status 1; bad arguments in one line.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../src/guests/catalog.js';
import { kvmAvailability } from '../src/engines/kvm.js';
import { loadFigure } from '../experiments/lib/registry.js';
import { spreadOf } from '../experiments/lib/stats.js';
import { chartConfiguration, logTickLabel, wrapLine } from '../experiments/lib/charts.js';
import { trialKey } from '../experiments/lib/trial-spec.js';
import { runRrkitTrial } from '../experiments/lib/trial-kinds.js';
import { recordStoppedFact } from '../experiments/lib/rrkit-cells.js';
import { cellMatches, parseCellFilter, selectCells } from '../experiments/lib/cell-filter.js';

const execFileAsync = promisify(execFile);
const out = mkdtempSync(join(tmpdir(), 'rrkit-experiments-test-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

async function experiments(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileAsync(join(REPO_ROOT, 'node_modules', '.bin', 'tsx'), [join(REPO_ROOT, 'experiments', 'run.ts'), ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, npm_lifecycle_event: '' },
      maxBuffer: 16 * 1024 * 1024,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** A CSV without quoted commas in the cells these tests read. */
function readCsv(path: string): Record<string, string>[] {
  const [header, ...lines] = readFileSync(path, 'utf8').trim().split('\n');
  const columns = header!.split(',');
  return lines.map((line) => {
    const cells = line.match(/("([^"]|"")*"|[^,]*)(,|$)/g)!.map((c) => c.replace(/,$/, '').replace(/^"|"$/g, '').replace(/""/g, '"'));
    return Object.fromEntries(columns.map((c, i) => [c, cells[i] ?? '']));
  });
}

/** Width and height from a PNG's IHDR, after checking its signature. */
function pngSize(path: string): { width: number; height: number; bytes: number } {
  const png = readFileSync(path);
  expect(png.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))).toBe(true);
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20), bytes: png.length };
}

describe('npm run experiments -- uniprocessor-overhead --quick', () => {
  it('writes the CSV, the JSON with the run’s metadata and the chart', async () => {
    const dir = join(out, 'quick');
    const { code, stdout, stderr } = await experiments('uniprocessor-overhead', '--quick', '--out', dir);
    expect({ code, stderr: code === 0 ? '' : stderr }).toEqual({ code: 0, stderr: '' });
    expect(stdout).toMatch(/uniprocessor-overhead: 1?\d cells measured, 0 failed/);

    const rows = readCsv(join(dir, 'uniprocessor-overhead.csv'));
    expect(Object.keys(rows[0]!)).toEqual(
      expect.arrayContaining(['run', 'engine', 'workload', 'status', 'record_over_plain_median', 'record_over_plain_min', 'record_over_plain_max', 'replay_over_plain_median', 'repeats_ok', 'reproduced']),
    );
    const kvm = kvmAvailability().available;
    expect(rows.map((r) => r.engine)).toEqual([...Array(7).fill('emu'), ...Array(7).fill('kvm')]);
    for (const row of rows) {
      if (row.engine === 'kvm' && !kvm) {
        expect(row.status).toMatch(/^not measured here: /);
        continue;
      }
      expect(row.status).toBe('ok');
      expect(row.run).toBe('QUICK (small workloads, 1 repeat): not a result');
      expect(row.reproduced).toBe('yes (1/1)');
      expect(Number(row.record_over_plain_median)).toBeGreaterThan(0);
      // One repeat: the spread is that one value.
      expect(row.record_over_plain_min).toBe(row.record_over_plain_median);
    }

    const json = JSON.parse(readFileSync(join(dir, 'uniprocessor-overhead.json'), 'utf8')) as Record<string, any>;
    expect(json).toMatchObject({ name: 'uniprocessor-overhead', quick: true, repeats: 1 });
    expect(json.warning).toMatch(/not a result/);
    expect(json.command).toMatch(/experiments\/run\.ts uniprocessor-overhead --quick --out /);
    expect(json.commit).toMatch(/^[0-9a-f]{40}$/);
    expect(new Date(json.date).getTime()).toBeGreaterThan(Date.now() - 3600_000);
    expect(json.machine).toMatchObject({ cpus: expect.any(Number), cpuModel: expect.any(String), kernel: expect.stringMatching(/^Linux /) });
    expect(json.versions).toMatchObject({ rrkit: expect.any(String), node: process.version });
    expect(json.rows).toHaveLength(14);

    expect(pngSize(join(dir, 'uniprocessor-overhead.png'))).toMatchObject({ width: 1100, height: 560, bytes: expect.any(Number) });
    expect(pngSize(join(dir, 'uniprocessor-overhead.png')).bytes).toBeGreaterThan(10_000);
  });
});

describe('a trial that fails', () => {
  it('is a failed cell, and the sweep goes on', async () => {
    const dir = join(out, 'failing');
    const { code, stdout } = await experiments(join(REPO_ROOT, 'test', 'fixtures', 'experiments', 'failing-figure.ts'), '--out', dir);
    expect(code).toBe(1);
    expect(stdout).toMatch(/failing-figure: 1 cells measured, 2 failed, 0 partly failed, 1 not measured/);
    expect(stdout).toMatch(/FAILED not-an-elf: repeat 1: exit 1: .*package\.json/);
    expect(stdout).toMatch(/FAILED killed: repeat 1: crashed \(SIGKILL\)/);

    const rows = Object.fromEntries(readCsv(join(dir, 'failing-figure.csv')).map((r) => [r.cell, r]));
    expect(rows.runs).toMatchObject({ status: 'ok', repeats_ok: '1' });
    expect(Number(rows.runs!.plain_s_median)).toBeGreaterThan(0);
    expect(rows['not-an-elf']).toMatchObject({ status: 'failed', repeats_ok: '0', plain_s_median: '' });
    expect(rows['not-an-elf']!.error).toMatch(/package\.json/);
    expect(rows.killed).toMatchObject({ status: 'failed', plain_s_median: '' });
    expect(rows.unavailable).toMatchObject({ status: 'not available on this commit: a test of the runner', repeats_ok: '0' });
    expect(pngSize(join(dir, 'failing-figure.png')).bytes).toBeGreaterThan(5_000);
  });
});

describe('a figure that writes its own results (experiments/failover.ts)', () => {
  it('is run whole, with --quick and the output directory passed on, and its files carry the metadata', async () => {
    const dir = join(out, 'script');
    const { code, stdout } = await experiments(join(REPO_ROOT, 'test', 'fixtures', 'experiments', 'script-figure.ts'), '--quick', '--out', dir);
    expect(code).toBe(0);
    expect(stdout).toMatch(/script-figure: written by .*script-figure\.ts/);
    expect(readCsv(join(dir, 'script-figure.csv'))).toEqual([
      { delay_ms: '0', seconds: '1.5' },
      { delay_ms: '50', seconds: '2.5' },
    ]);
    const json = JSON.parse(readFileSync(join(dir, 'script-figure.json'), 'utf8')) as Record<string, any>;
    expect(json).toMatchObject({ name: 'script-figure', quick: true, commit: expect.stringMatching(/^[0-9a-f]{40}$/) });
    expect(json.command).toMatch(/script-figure\.ts --quick$/);
    expect(pngSize(join(dir, 'script-figure.png')).bytes).toBeGreaterThan(5_000);
  });

  it('missing from a commit, it is "not available on this commit", not an error', async () => {
    const empty = mkdtempSync(join(out, 'no-figures-'));
    await expect(loadFigure('failover', empty)).resolves.toEqual({
      kind: 'missing',
      name: 'failover',
      reason: expect.stringMatching(/^not available on this commit: experiments\/failover\.ts comes with replication/),
    });
    await expect(loadFigure('no-such-figure', empty)).rejects.toThrow(/^no figure 'no-such-figure'/);
  });
});

describe('the pieces', () => {
  it('spread: median (the middle two averaged), min and max of the finite values', () => {
    expect(spreadOf([3, 1, 2])).toEqual({ median: 2, min: 1, max: 3, n: 3 });
    expect(spreadOf([4, 1, 3, 2])).toEqual({ median: 2.5, min: 1, max: 4, n: 4 });
    expect(spreadOf([5, Number.NaN, Infinity])).toEqual({ median: 5, min: 5, max: 5, n: 1 });
    expect(spreadOf([])).toBeNull();
  });

  it('a log axis labels 1, 2 and 5 of each decade only (nine labels a decade overlap)', () => {
    const ticks = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 20, 30, 50, 0.2, 0.3, 20_000, 5_000_000];
    expect(ticks.map(logTickLabel)).toEqual(['1', '2', '', '', '5', '', '', '', '', '10', '20', '', '50', '0.2', '', '20K', '5M']);
  });

  it('a subtitle wider than the chart is broken into lines after "; " or ", ", nothing lost', () => {
    const long = `9 cells kvm: busy-waits without an exit hold pages for ever (docs/kvm-smp.md, Limits); recordings stopped at their time budget, bars are lower bounds: ${Array.from({ length: 8 }, (_, i) => `emu flag-handshake ${i}`).join(', ')}`;
    const lines = wrapLine(long, 100);
    expect(lines.length).toBeGreaterThan(1);
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(100);
    expect(lines.join(' ')).toBe(long);
    expect(lines[0]).toBe('9 cells kvm: busy-waits without an exit hold pages for ever (docs/kvm-smp.md, Limits);');
    expect(wrapLine('short')).toEqual(['short']);
    const config = chartConfiguration({ config: { type: 'bar', data: { datasets: [] }, options: { plugins: { subtitle: { display: true, text: ['a', long] } } } } });
    const text = config.options?.plugins?.subtitle?.text as string[];
    expect(text[0]).toBe('a');
    expect(text.slice(1).join(' ')).toBe(long);
    expect(text.length).toBeGreaterThan(2);
  });

  it('--cell keeps the cells whose key has every named value, any filter matching', () => {
    const cells = [
      { key: { engine: 'emu', workload: 'radix-sort', vcpus: 4 } },
      { key: { engine: 'emu', workload: 'radix-sort', vcpus: 8 } },
      { key: { engine: 'kvm', workload: 'radix-sort', vcpus: 4 } },
      { key: { engine: 'emu', workload: 'matmul', vcpus: 4 } },
    ];
    const radixOnEmu = parseCellFilter('engine=emu, workload=radix-sort');
    expect(selectCells(cells, [radixOnEmu]).map((c) => c.key.vcpus)).toEqual([4, 8]);
    expect(selectCells(cells, [parseCellFilter('vcpus=4,engine=kvm'), parseCellFilter('workload=matmul')])).toEqual([cells[2], cells[3]]);
    expect(selectCells(cells, [])).toEqual(cells);
    expect(cellMatches(cells[0]!.key, parseCellFilter('flavour=x'))).toBe(false);
    expect(() => parseCellFilter('engine')).toThrow('--cell engine: "engine" is not COLUMN=VALUE (e.g. engine=emu,workload=radix-sort,vcpus=4)');
    expect(() => parseCellFilter('vcpus=2,vcpus=4')).toThrow('--cell vcpus=2,vcpus=4: vcpus is named twice');
  });

  it('a trial’s key does not depend on the order of its fields (identical trials of two figures run once)', () => {
    const a = trialKey({ kind: 'rrkit', engine: 'emu', workload: 'matmul', small: false, vcpus: 2, variants: ['plain', 'record', 'replay'] });
    const b = trialKey({ variants: ['plain', 'record', 'replay'], vcpus: 2, small: false, workload: 'matmul', engine: 'emu', kind: 'rrkit' });
    expect(a).toBe(b);
    expect(trialKey({ kind: 'rrkit', engine: 'emu', workload: 'matmul', small: false, vcpus: 4, variants: ['plain', 'record', 'replay'] })).not.toBe(a);
  });
});

describe('a recording past its time budget', () => {
  it('is stopped there: the cell keeps its partial log and says record_over_plain is a lower bound, with no replay', async () => {
    const dir = mkdtempSync(join(out, 'budget-'));
    // sha256's full size runs about a second; a budget of 1% of that (at least 50 ms) stops its recording.
    const values = await runRrkitTrial(
      { kind: 'rrkit', engine: 'emu', workload: 'sha256', small: false, vcpus: 1, variants: ['plain', 'record', 'replay'], recordBudget: { overPlain: 0.01, floorSeconds: 0.05 } },
      dir,
    );
    expect(values.recordStopped).toMatch(/^stopped after 0\.\d\d s \(0\.01× the plain run, at least 0\.05 s\)$/);
    expect(values.replaySeconds).toBeUndefined();
    expect(values.reproduced).toBeUndefined();
    expect(values.logBytes).toBeGreaterThan(0);
    expect(Number(values.landmarks)).toBeGreaterThan(0);
    expect(recordStoppedFact([values, { ...values, recordStopped: undefined as never }].map((v) => Object.fromEntries(Object.entries(v).filter(([, x]) => x !== undefined))))).toMatch(
      /^1\/2 stopped after .*: record_over_plain is a lower bound, no replay$/,
    );
    // Within its budget, a recording runs to the end and is replayed.
    const whole = await runRrkitTrial(
      { kind: 'rrkit', engine: 'emu', workload: 'sha256', small: true, vcpus: 1, variants: ['plain', 'record', 'replay'] },
      mkdtempSync(join(out, 'budget-')),
    );
    expect(whole.recordStopped).toBeUndefined();
    expect(whole.reproduced).toBe(true);
    expect(recordStoppedFact([whole])).toBe('');
  }, 120_000);
});

describe('bad arguments', () => {
  it('an unknown figure, or a bad --repeats, is one line and exit 2, before any trial', async () => {
    const unknown = await experiments('no-such-figure', '--out', join(out, 'bad'));
    expect(unknown.code).toBe(2);
    expect(unknown.stderr.trim()).toMatch(/^experiments: no figure 'no-such-figure' \(figures: uniprocessor-overhead, .*\)$/);
    const repeats = await experiments('uniprocessor-overhead', '--repeats', '0', '--out', join(out, 'bad'));
    expect(repeats.code).toBe(2);
    expect(repeats.stderr.trim()).toBe('experiments: --repeats must be a whole number ≥ 1, not 0');
    const cellWithoutOut = await experiments('smp-overhead', '--cell', 'engine=emu,workload=radix-sort');
    expect(cellWithoutOut.code).toBe(2);
    expect(cellWithoutOut.stderr.trim()).toBe(
      'experiments: --cell writes tables of only the chosen cells: give --out DIR so that results/ keeps the whole figures',
    );
    const badCell = await experiments('smp-overhead', '--cell', 'radix-sort', '--out', join(out, 'bad'));
    expect(badCell.code).toBe(2);
    expect(badCell.stderr.trim()).toMatch(/^experiments: --cell radix-sort: "radix-sort" is not COLUMN=VALUE/);
  });
});
