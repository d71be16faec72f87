/**
 * `rrkit log timeline`: the trace validates against the trace-event format, holds exactly
 * the transfers `log stats` counts, shows every vCPU of a recorded SMP run, cuts windows and
 * filters pages, shows record kinds it does not know, and refuses damaged logs in one line
 * without leaving a file behind.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, test } from 'vitest';
import { readLogFile, type LogHeader } from '../src/analysis/log-reader.js';
import { logFileStats } from '../src/analysis/log-stats.js';
import type { LogRecord } from '../src/analysis/log-records.js';
import { viewOf } from '../src/analysis/timeline/record-view.js';
import { LandmarkAxis } from '../src/analysis/timeline/time-axis.js';
import { TimelineBuilder } from '../src/analysis/timeline/timeline-builder.js';
import type { TraceEvent } from '../src/analysis/timeline/trace-event.js';
import { LandmarkWindow, parseLandmark } from '../src/analysis/timeline/timeline-filter.js';
import { writeTimeline } from '../src/analysis/timeline/timeline-file.js';
import { builtGuestPath, REPO_ROOT } from '../src/guests/catalog.js';
import { native } from '../src/native.js';
import { record } from '../src/session/record.js';
import { EXIT } from '../src/cli/exit-status.js';
import { tempDir, writeLog } from './log-fixtures.js';
import { readTrace } from './trace-check.js';

const execFileAsync = promisify(execFile);
const RRKIT = join(REPO_ROOT, 'bin', 'rrkit');

async function rrkit(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileAsync(RRKIT, args);
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

type Transfer = Extract<LogRecord, { type: 'crew-transfer' }>;
const transfersOf = (path: string): Transfer[] => readLogFile(path).records.filter((r): r is Transfer => r.type === 'crew-transfer');

describe('a timeline of a log with every record kind', () => {
  const dir = tempDir();
  const log = join(dir, 'sample.rrlog');
  beforeAll(() => {
    writeLog(log);
  });

  test('validates, names both vCPU tracks and holds as many transfers as log stats counts', () => {
    const out = join(dir, 'sample.trace.json');
    const result = writeTimeline({ logPath: log, outPath: out, format: 'json' });
    const trace = readTrace(out);
    expect([...trace.tracks.values()].sort()).toEqual(['vcpu 0', 'vcpu 1']);
    const stats = logFileStats(log);
    expect(stats.crew).not.toBeNull();
    expect(trace.flows.size).toBe(stats.crew!.transfers);
    expect(result.transfers).toBe(stats.crew!.transfers);
    expect(trace.otherData.rrkit['transfers']).toBe(stats.crew!.transfers);
    // Each flow joins the transfer's two vCPUs at their own landmarks.
    const transfers = transfersOf(log);
    const byText = new Map([...trace.flows.values()].map((f) => [String(f.out!.args!['transfer']), f]));
    for (const t of transfers) {
      const flow = byText.get(`page 0x${t.page.toString(16)}: vcpu ${t.from.vcpu} @ ${t.from.count} -> vcpu ${t.to.vcpu} @ ${t.to.count}`)!;
      expect(flow).toBeDefined();
      expect([flow.out!.pid, flow.out!.ts, flow.in!.pid, flow.in!.ts]).toEqual([t.from.vcpu + 1, Number(t.from.count), t.to.vcpu + 1, Number(t.to.count)]);
    }
    // Interrupts, inputs, checkpoints, the DMA write and the stop are instants on their tracks.
    const names = new Set(trace.events.filter((e) => e.ph === 'i').map((e) => `${e.pid}:${e.name}`));
    for (const name of ['1:interrupt: timer', '2:input: clock', '2:rare: store-conditional', '1:checkpoint 4', '2:checkpoint 4', '1:dma write', '2:exit -3']) {
      expect(names, name).toContain(name);
    }
    // Segments tile each track from 0 to its final landmark.
    for (const [pid, end] of [[1, 4_199_000], [2, 4_200_000]] as const) {
      const segments = trace.events.filter((e) => e.ph === 'X' && e.cat === 'segment' && e.pid === pid).sort((a, b) => a.ts - b.ts);
      expect(segments[0]!.ts).toBe(0);
      segments.forEach((s, i) => i > 0 && expect(s.ts).toBe(segments[i - 1]!.ts + segments[i - 1]!.dur!));
      expect(segments.at(-1)!.ts + segments.at(-1)!.dur!).toBe(end);
    }
    // The counters add up to the log's records.
    const counted = trace.events.filter((e) => e.ph === 'C' && e.name === 'transfers').reduce((sum, e) => sum + Number(e.args!['value']), 0);
    expect(counted).toBe(transfers.length);
  });

  test('--from/--to keep only what lies in the window', () => {
    const out = join(dir, 'window.trace.json');
    const [from, to] = [1_000_000n, 2_500_000n];
    writeTimeline({ logPath: log, outPath: out, format: 'json', window: LandmarkWindow.between(from, to) });
    const trace = readTrace(out);
    for (const e of trace.events.filter((e) => e.ph !== 'M')) {
      expect(e.ts, JSON.stringify(e)).toBeGreaterThanOrEqual(Number(from));
      expect(e.ts + (e.dur ?? 0), JSON.stringify(e)).toBeLessThanOrEqual(Number(to) + 1);
    }
    const inside = transfersOf(log).filter((t) => t.from.count >= from && t.from.count <= to && t.to.count >= from && t.to.count <= to);
    expect(inside.length).toBeGreaterThan(0);
    expect(trace.flows.size).toBe(inside.length);
    expect(trace.events.some((e) => e.name === 'interrupt: timer')).toBe(true);
  });

  test('--pages keeps only those pages\' transfers', () => {
    const out = join(dir, 'pages.trace.json');
    writeTimeline({ logPath: log, outPath: out, format: 'json', pages: '0x80043' });
    const trace = readTrace(out);
    const expected = transfersOf(log).filter((t) => t.page === 0x80043n).length;
    expect(expected).toBeGreaterThan(0);
    expect(trace.flows.size).toBe(expected);
    // Transfers and kvm's CREW faults (the fixture holds both) of that page only.
    expect(trace.events.filter((e) => e.cat === 'crew').every((e) => e.name === 'page 0x80043' || e.name.startsWith('fault: page 0x80043'))).toBe(true);
    // A range takes in the other two pages.
    writeTimeline({ logPath: log, outPath: out, format: 'json', pages: '0x80042-0x80044' });
    expect(readTrace(out).flows.size).toBe(transfersOf(log).length);
  });

  test('an incomplete log gives the timeline as far as it goes, and says so', () => {
    const incomplete = join(dir, 'incomplete.rrlog');
    writeLog(incomplete, { close: false });
    const out = join(dir, 'incomplete.trace.json');
    const result = writeTimeline({ logPath: incomplete, outPath: out, format: 'json' });
    expect(result.complete).toBe(false);
    expect(readTrace(out).otherData.rrkit['complete']).toBe(false);
  });

  test('the command: bad options and damaged logs end in one line, with no file left behind', async () => {
    const out = join(dir, 'cli.trace.json');
    const ok = await rrkit('log', 'timeline', log, '-o', out);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stderr).toMatch(/wrote .*cli\.trace\.json: 2 vCPU tracks, \d+ CREW transfers/);
    readTrace(out);

    const bytes = readFileSync(log);
    const damaged = join(dir, 'damaged.rrlog');
    const flipped = Buffer.from(bytes);
    flipped[flipped.length - 200]! ^= 0x40;
    writeFileSync(damaged, flipped);
    const damagedOut = join(dir, 'damaged.trace.json');
    const bad = await rrkit('log', 'timeline', damaged, '-o', damagedOut);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toMatch(/^rrkit: (bad-crc|bad-record|bad-trailer) in /);
    expect(existsSync(damagedOut)).toBe(false);
    expect(existsSync(`${damagedOut}.partial-${process.pid}`)).toBe(false);

    const truncated = join(dir, 'truncated.rrlog');
    writeFileSync(truncated, bytes.subarray(0, bytes.length - 30));
    const cut = await rrkit('log', 'timeline', truncated, '-o', damagedOut);
    expect(cut.stderr).toMatch(/^rrkit: truncated /);
    expect(existsSync(damagedOut)).toBe(false);

    const missing = await rrkit('log', 'timeline', join(dir, 'nothing.rrlog'), '-o', damagedOut);
    expect(missing.stderr.trim().split('\n')).toHaveLength(1);
    expect(missing.code).not.toBe(0);

    for (const args of [['--from', 'soon'], ['--from', '20', '--to', '10'], ['--pages', 'no_such_variable'], ['--interval', '0']]) {
      const usage = await rrkit('log', 'timeline', log, '-o', damagedOut, ...args);
      expect(usage.code, args.join(' ')).toBe(EXIT.usage);
      expect(usage.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
      expect(existsSync(damagedOut)).toBe(false);
    }
  });
});

describe('record kinds of other engines, of newer rrkits, and of the other branches of format 3', () => {
  test('show as instants with their fields; kvm\'s delayed interrupt is an interrupt with its delay', () => {
    const delayed: LogRecord = { type: 'delayed-interrupt', vcpu: 0, count: 42n, cause: 32n, delayNs: 56_000n };
    expect(viewOf(delayed, 'kvm')).toEqual({ kind: 'instant', vcpu: 0, count: 42n, name: 'interrupt: timer', category: 'interrupt', args: { cause: '32', delayUs: 56 } });
    const newer = { type: 'some-newer-kind', vcpu: 1, count: 7n, next: 2, reason: 'hold', at: 9n } as unknown as LogRecord;
    expect(viewOf(newer, 'emu')).toEqual({ kind: 'instant', vcpu: 1, count: 7n, name: 'some-newer-kind', category: 'other', args: { next: 2, reason: 'hold', at: '9' } });
    expect(viewOf({ type: 'something-without-a-landmark' } as unknown as LogRecord, 'emu')).toEqual({ kind: 'none' });
  });

  test('serialized mode (kinds 11, 12) draws membership and turn spans; a kvm CREW fault (14) is an instant on its page', () => {
    const header: LogHeader = { engine: 'emu', imageHash: '', imagePath: '', vcpus: 2, ramMib: 64, crewGranularity: 4096, checkpointInterval: 0n, startUnixMs: 0n, configJson: '{}' };
    const events: TraceEvent[] = [];
    const sink = { add: (e: TraceEvent) => void events.push(e) };
    const builder = new TimelineBuilder({ header, window: LandmarkWindow.all, interval: 1000n, symbols: [], wall: false }, new LandmarkAxis(sink, 'instructions'), sink);
    const records = [
      { type: 'mode-switch', vcpu: 0, count: 100n, group: 1n, serialized: true },
      { type: 'mode-switch', vcpu: 1, count: 50n, group: 1n, serialized: true },
      { type: 'turn-switch', vcpu: 0, count: 150n, next: 1 },
      { type: 'crew-fault', vcpu: 1, count: 70n, page: 3n, write: true, edges: 1n },
      { type: 'turn-switch', vcpu: 1, count: 80n, next: 0 },
      { type: 'mode-switch', vcpu: 0, count: 300n, group: 1n, serialized: false },
    ] as unknown as LogRecord[];
    for (const r of records) builder.add(r, 4);
    builder.finish();
    const slices = events.filter((e) => e.cat === 'serialized' && e.ph === 'X').map((e) => [e.pid - 1, e.name, e.ts, e.dur]);
    expect(slices).toEqual([
      [1, 'turn', 50, 30], // vCPU 1 took the turn where it waited (its join at 50) and gave it back at 80
      [0, 'serialized (group 1)', 100, 200],
      // Open at the log's end: closed at the vCPU's last landmark.
      [0, 'turn', 150, 150], // from where it waited (its turn's end at 150)
      [1, 'serialized (group 1)', 50, 30], // it never left
    ]);
    expect(events.filter((e) => e.ph === 'i' && e.cat === 'serialized').map((e) => [e.pid - 1, e.name, e.ts])).toEqual([
      [0, 'turn -> vcpu 1', 150],
      [1, 'turn -> vcpu 0', 80],
    ]);
    expect(events.filter((e) => e.cat === 'crew').map((e) => [e.pid - 1, e.ph, e.name, e.ts, e.args])).toEqual([[1, 'i', 'fault: page 0x3', 70, { write: true, edges: '1', where: 'guest 0x80003000' }]]);
  });

  test('landmark counts parse as a command line gives them', () => {
    expect([parseLandmark('123'), parseLandmark('0x10'), parseLandmark('250k'), parseLandmark('10M'), parseLandmark('2G')]).toEqual([123n, 16n, 250_000n, 10_000_000n, 2_000_000_000n]);
    expect(() => parseLandmark('-5')).toThrow(RangeError);
  });
});

describe('a recorded SMP run', () => {
  test('shows every vCPU, every transfer of log stats, and names pages after guest variables', async () => {
    const dir = tempDir();
    const log = join(dir, 'lock-counter.rrlog');
    const vcpus = 4;
    const result = await record({ elf: builtGuestPath('lock-counter', 'rv64', true), logPath: log, vcpus, capture: true, checkpointInterval: 100_000n, timeoutSeconds: 60 });
    expect(result.exitCode).toBe(0);
    const out = join(dir, 'lock-counter.trace.json');
    writeTimeline({ logPath: log, outPath: out, format: 'json', interval: 20_000n });
    const trace = readTrace(out);
    expect([...trace.tracks.entries()].sort((a, b) => a[0] - b[0])).toEqual(Array.from({ length: vcpus }, (_, v) => [v + 1, `vcpu ${v}`]));
    for (let v = 0; v < vcpus; v++) {
      expect(trace.events.some((e) => e.pid === v + 1 && e.ph === 'X' && e.cat === 'segment'), `vcpu ${v} has segments`).toBe(true);
      expect(trace.events.some((e) => e.pid === v + 1 && e.ph === 'C'), `vcpu ${v} has counters`).toBe(true);
    }
    const stats = logFileStats(log);
    expect(stats.crew!.transfers).toBeGreaterThan(0);
    expect(trace.flows.size).toBe(stats.crew!.transfers);
    // The hottest page carries the guest variable's name, as in log stats.
    const hottest = stats.crew!.hottestPages[0]!;
    const symbol = /: (\w+)/.exec(hottest.where)?.[1];
    expect(symbol).toBeDefined();
    expect(trace.events.some((e) => e.cat === 'crew' && e.name === `page ${hottest.page} (${symbol})`)).toBe(true);
    // --pages by that variable's name keeps exactly its page's transfers.
    writeTimeline({ logPath: log, outPath: out, format: 'json', pages: symbol });
    expect(readTrace(out).flows.size).toBe(hottest.transfers);
  });
});

describe('verify --timeline', () => {
  test('writes the window around a divergence, from the cut before it to the cut after it, with the divergence marked', async () => {
    const dir = tempDir();
    const original = join(dir, 'entropy.rrlog');
    const interval = 1_000_000n;
    const run = await record({ elf: builtGuestPath('entropy-mix', 'rv64', true), logPath: original, capture: true, checkpointInterval: interval, timeoutSeconds: 60 });
    expect(run.exitCode).toBe(0);
    const log = readLogFile(original);
    const records = [...log.records];
    const inputs = records.filter((r): r is Extract<LogRecord, { type: 'input' }> => r.type === 'input' && r.kind === 2);
    const victim = inputs[Math.floor(inputs.length / 2)]!;
    victim.value ^= 1n;
    const tampered = join(dir, 'tampered.rrlog');
    native().logWrite(tampered, { header: log.header, records, close: true, maxChunkBytes: 64 * 1024 });

    const out = join(dir, 'divergence.trace.json');
    const verified = await rrkit('verify', tampered, '--timeline', out);
    expect(verified.code).toBe(EXIT.diverged);
    expect(verified.stderr).toMatch(/replay diverged at vcpu 0 @ instruction (\d+).*; the timeline around it is in .*divergence\.trace\.json/);
    const at = Number(/@ instruction (\d+)/.exec(verified.stderr)![1]);
    const trace = readTrace(out);
    const mark = trace.events.find((e) => e.cat === 'divergence')!;
    expect(mark).toMatchObject({ ph: 'i', pid: 1, ts: at });
    expect(mark.name).toMatch(/^diverged: /);
    const checkpoints = log.records.filter((r) => r.type === 'checkpoint').map((r) => Number(r.vcpus[0]!.count));
    const before = Math.max(...checkpoints.filter((c) => c < at));
    const after = Math.min(...checkpoints.filter((c) => c >= at));
    expect(before).toBeLessThanOrEqual(Number(victim.count));
    for (const e of trace.events.filter((e) => e.ph !== 'M')) {
      expect(e.ts).toBeGreaterThanOrEqual(before);
      expect(e.ts + (e.dur ?? 0)).toBeLessThanOrEqual(after + 1);
    }
    // The tampered input is in the window, on vCPU 0's track.
    expect(trace.events.some((e) => e.name === 'input: entropy' && e.ts === Number(victim.count))).toBe(true);

    // No divergence: nothing written, and verify says so.
    const quiet = join(dir, 'none.trace.json');
    const identical = await rrkit('verify', original, '--timeline', quiet);
    expect(identical.code).toBe(0);
    expect(identical.stderr).toMatch(/no divergence: no timeline written/);
    expect(existsSync(quiet)).toBe(false);
  });
});

describe('wall-clock samples', () => {
  test('a stall shows on the landmark axis as an instant that says how long it lasted', () => {
    const dir = tempDir();
    const log = join(dir, 'sample.rrlog');
    writeLog(log);
    const out = join(dir, 'stalls.trace.json');
    writeTimeline({ logPath: log, outPath: out, format: 'json' });
    const stalls = readTrace(out).events.filter((e) => e.cat === 'state');
    expect(stalls.map((e) => [e.pid, e.ts, e.name])).toEqual([8n, 16n, 24n, 32n, 40n].map((t) => [2, Number(t * 100_000n + 70n), 'page-wait 30 µs']));
  });

  test('record --wall-samples: the replay is unchanged, and the timeline on host time shows what each vCPU did', async () => {
    const dir = tempDir();
    const log = join(dir, 'lock-counter.rrlog');
    // Four vCPUs on this host's two cores: the harts that finish first are asleep when the
    // machine stops, so their stop is sampled where they slept, not by a last slice.
    const vcpus = 4;
    const recorded = await record({ elf: builtGuestPath('lock-counter', 'rv64', true), logPath: log, vcpus, capture: true, checkpointInterval: 100_000n, timeoutSeconds: 60, wallSampleUs: 100 });
    expect(recorded.exitCode).toBe(0);
    const verified = await rrkit('verify', log);
    expect(verified.code, verified.stderr).toBe(0);

    // Each vCPU's samples: running from its first landmark, stopped at its last, times rising.
    const samples = readLogFile(log).records.filter((r): r is Extract<LogRecord, { type: 'host-time' }> => r.type === 'host-time');
    for (let v = 0; v < vcpus; v++) {
      const own = samples.filter((s) => s.vcpu === v);
      expect(own.length).toBeGreaterThan(2);
      expect([own[0]!.count, own[0]!.activity]).toEqual([0n, 1]);
      expect([own.at(-1)!.count, own.at(-1)!.activity]).toEqual([recorded.vcpus[v]!.landmark, 6]);
      own.forEach((s, i) => i > 0 && expect(s.count >= own[i - 1]!.count && s.ns >= own[i - 1]!.ns).toBe(true));
    }

    const out = join(dir, 'wall.trace.json');
    const result = await rrkit('log', 'timeline', log, '--wall', '-o', out);
    expect(result.code, result.stderr).toBe(0);
    const trace = readTrace(out);
    expect(trace.otherData.rrkit['unplaced']).toBe(0);
    expect(trace.flows.size).toBe(logFileStats(log).crew!.transfers);
    const lastUs = Math.max(...samples.map((s) => Number(s.ns) / 1000));
    for (const e of trace.events.filter((e) => e.ph !== 'M')) {
      expect(e.ts, JSON.stringify(e)).toBeLessThanOrEqual(lastUs + 1e-6);
    }
    for (let v = 0; v < vcpus; v++) {
      const states = trace.events.filter((e) => e.pid === v + 1 && e.cat === 'state').sort((a, b) => a.ts - b.ts);
      expect(states.some((s) => s.name === 'running'), `vcpu ${v} runs`).toBe(true);
      // Spans of one vCPU follow each other without overlapping.
      states.forEach((s, i) => i > 0 && expect(s.ts).toBeGreaterThanOrEqual(states[i - 1]!.ts + states[i - 1]!.dur! - 1e-6));
    }
    // Somebody waited for a page, or spun: lock-counter's harts share one lock.
    expect(trace.events.some((e) => e.cat === 'state' && e.name !== 'running')).toBe(true);
  });

  test('--wall on a log without samples, and --wall-sample-us without --wall-samples, end in one line', async () => {
    const dir = tempDir();
    const log = join(dir, 'plain.rrlog');
    await record({ elf: builtGuestPath('lock-counter', 'rv64', true), logPath: log, vcpus: 2, capture: true, timeoutSeconds: 60 });
    const out = join(dir, 'wall.trace.json');
    const refused = await rrkit('log', 'timeline', log, '--wall', '-o', out);
    expect(refused.code).toBe(EXIT.usage);
    expect(refused.stderr.trim().split('\n')).toHaveLength(1);
    expect(refused.stderr).toMatch(/holds no wall-clock samples.*--wall-samples/);
    expect(existsSync(out)).toBe(false);
    const usage = await rrkit('record', 'lock-counter.small', '-o', join(dir, 'x.rrlog'), '--wall-sample-us', '500');
    expect(usage.code).toBe(EXIT.usage);
    expect(usage.stderr).toMatch(/--wall-sample-us needs --wall-samples/);
  });
});
