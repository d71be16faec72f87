/**
 * `rrkit log timeline` of a kvm recording (needs /dev/kvm; fails without it): one track on
 * exit landmarks with the kvm records — interrupts by vector with how long each waited for
 * an exit, the disk's DMA writes, checkpoints — and `record --wall-samples` on kvm: the
 * replay unchanged, samples at exits, around long stretches in the guest and around
 * checkpoints, the track on host time; on 2 vCPUs, a track for each.
 */
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { readLogFile } from '../../src/analysis/log-reader.js';
import type { LogRecord } from '../../src/analysis/log-records.js';
import { logFileStats } from '../../src/analysis/log-stats.js';
import { writeTimeline } from '../../src/analysis/timeline/timeline-file.js';
import { kvmAvailability } from '../../src/engines/kvm.js';
import { builtGuestPath } from '../../src/guests/catalog.js';
import { writeDiskImage } from '../../src/guests/disk-image.js';
import { record } from '../../src/session/record.js';
import { verify } from '../../src/session/verify.js';
import { logFolder } from '../kept-logs.js';
import { readTrace } from '../trace-check.js';

type HostTime = Extract<LogRecord, { type: 'host-time' }>;
const CHECKPOINT_INTERVAL = 20n;

beforeAll(() => {
  const kvm = kvmAvailability();
  // A machine without /dev/kvm runs this directory inside QEMU (npm run test:kvm).
  expect(kvm.available, kvm.reason).toBe(true);
});

describe('the timeline of a kvm recording', () => {
  test('one track on exits: interrupts by vector with their delays, DMA writes, checkpoints; --wall on host time', async () => {
    const dir = logFolder('kvm-timeline');
    const disk = join(dir, 'disk.img');
    await writeDiskImage(disk, 256);
    const log = join(dir, 'disk-checksum.rrlog');
    const recorded = await record({
      elf: builtGuestPath('disk-checksum', 'x86_64', true),
      logPath: log,
      capture: true,
      checkpointInterval: CHECKPOINT_INTERVAL,
      timeoutSeconds: 60,
      disk,
      wallSampleUs: 100,
    });
    expect(recorded.console.toString()).toMatch(/^disk-checksum: ok /m);
    expect(recorded.exitCode).toBe(0);
    // The samples are for the timeline only: the replay is the recording's.
    const { verdict } = await verify({ logPath: log });
    expect(verdict.verdict).toBe('identical');

    const exits = recorded.vcpus[0]!.landmark;
    const records = readLogFile(log).records;
    const samples = records.filter((r): r is HostTime => r.type === 'host-time');
    // Running from exit 0, stopped at the last exit, a cut around each checkpoint; times rising.
    expect([samples[0]!.count, samples[0]!.activity]).toEqual([0n, 1]);
    expect([samples.at(-1)!.count, samples.at(-1)!.activity]).toEqual([exits, 6]);
    samples.forEach((s, i) => i > 0 && expect(s.count >= samples[i - 1]!.count && s.ns >= samples[i - 1]!.ns).toBe(true));
    const checkpoints = records.filter((r) => r.type === 'checkpoint').length;
    expect(checkpoints).toBe(Number(exits / CHECKPOINT_INTERVAL));
    const cuts = samples.filter((s) => s.activity === 3);
    expect(cuts.length).toBeGreaterThan(0);
    expect(cuts.length).toBeLessThanOrEqual(checkpoints);

    const out = join(dir, 'exits.trace.json');
    writeTimeline({ logPath: log, outPath: out, format: 'json' });
    const trace = readTrace(out);
    expect([...trace.tracks]).toEqual([[1, 'vcpu 0']]);
    expect(trace.events.find((e) => e.ph === 'M' && e.name === 'thread_name')?.args).toEqual({ name: 'vcpu 0 (exits)' });
    expect(trace.otherData.rrkit).toMatchObject({ engine: 'kvm', landmarkUnit: 'exits', complete: true });
    const stats = logFileStats(log);
    const interrupts = trace.events.filter((e) => e.cat === 'interrupt');
    expect(interrupts.length).toBe(stats.byType['delayed-interrupt']!.events);
    for (const e of interrupts) {
      expect(['interrupt: timer', 'interrupt: disk'], JSON.stringify(e)).toContain(e.name);
      expect(e.args!['delayUs'] as number).toBeGreaterThanOrEqual(0);
    }
    expect(interrupts.some((e) => e.name === 'interrupt: disk')).toBe(true);
    expect(trace.events.filter((e) => e.name === 'dma write').length).toBe(stats.byType['dma-write']!.events);
    expect(trace.events.filter((e) => e.cat === 'checkpoint').length).toBe(checkpoints);
    const segments = trace.events.filter((e) => e.cat === 'segment');
    expect(segments.length).toBe(exits % CHECKPOINT_INTERVAL === 0n ? checkpoints : checkpoints + 1);
    expect(Math.max(...segments.map((e) => e.ts + e.dur!))).toBe(Number(exits));
    expect(trace.events.filter((e) => e.cat === 'stop').map((e) => [e.name, e.ts])).toEqual([['exit 0', Number(exits)]]);
    // On exits a stall has no width: an instant at its exit, one per cut logged.
    expect(trace.events.filter((e) => e.cat === 'state' && /^cut [\d.]+ µs$/.test(e.name)).length).toBe(cuts.length);

    const wallOut = join(dir, 'wall.trace.json');
    writeTimeline({ logPath: log, outPath: wallOut, format: 'json', wall: true });
    const wall = readTrace(wallOut);
    expect(wall.otherData.rrkit['unplaced']).toBe(0);
    const states = wall.events.filter((e) => e.cat === 'state').sort((a, b) => a.ts - b.ts);
    expect(new Set(states.map((e) => e.name))).toEqual(new Set(['running', 'cut']));
    states.forEach((e, i) => i > 0 && expect(e.ts).toBeGreaterThanOrEqual(states[i - 1]!.ts + states[i - 1]!.dur! - 1e-6));
    const lastUs = Number(samples.at(-1)!.ns) / 1000;
    expect(states.at(-1)!.ts + states.at(-1)!.dur!).toBeCloseTo(lastUs, 3);
    for (const e of wall.events.filter((e) => e.ph !== 'M')) expect(e.ts, JSON.stringify(e)).toBeLessThanOrEqual(lastUs + 1e-6);
    expect(wall.events.filter((e) => e.cat === 'interrupt').length).toBe(interrupts.length);
  });

  test('--wall-samples on 2 vCPUs: each vCPU samples at its own exits and stops, a wall track each, the replay unchanged', async () => {
    const dir = logFolder('kvm-timeline-smp');
    const log = join(dir, 'lock-counter.rrlog');
    const recorded = await record({ elf: builtGuestPath('lock-counter', 'x86_64', true), logPath: log, vcpus: 2, capture: true, timeoutSeconds: 60, wallSampleUs: 100 });
    expect(recorded.exitCode).toBe(0);
    expect((await verify({ logPath: log })).verdict.verdict).toBe('identical');
    const samples = readLogFile(log).records.filter((r): r is HostTime => r.type === 'host-time');
    for (const vcpu of [0, 1]) {
      const mine = samples.filter((s) => s.vcpu === vcpu);
      // Running from landmark 0, stopped at its final landmark; landmarks and times rising.
      expect([mine[0]!.count, mine[0]!.activity]).toEqual([0n, 1]);
      expect([mine.at(-1)!.count, mine.at(-1)!.activity]).toEqual([recorded.vcpus[vcpu]!.landmark, 6]);
      mine.forEach((s, i) => i > 0 && expect(s.count >= mine[i - 1]!.count && s.ns >= mine[i - 1]!.ns).toBe(true));
    }
    const out = join(dir, 'wall.trace.json');
    writeTimeline({ logPath: log, outPath: out, format: 'json', wall: true });
    const wall = readTrace(out);
    expect(wall.otherData.rrkit['unplaced']).toBe(0);
    expect([...wall.tracks].map(([, name]) => name)).toEqual(['vcpu 0', 'vcpu 1']);
    expect(wall.events.some((e) => e.cat === 'state' && e.name === 'running')).toBe(true);
  });

  // A stretch's start is sampled at its end, with the landmark it began at: an exit where the
  // vCPU gives pages up logs edges from that exit, and the samples must come before them
  // (radix-sort's exits hand pages over after stretches longer than 10 µs; under QEMU any).
  test('--wall-samples every 10 µs on 2 vCPUs with pages given up at exits: the log in order, the replay unchanged', async () => {
    const dir = logFolder('kvm-timeline-smp-short');
    for (let round = 0; round < 3; round++) {
      const log = join(dir, `radix-sort-${round}.rrlog`);
      const recorded = await record({ elf: builtGuestPath('radix-sort', 'x86_64', true), logPath: log, vcpus: 2, capture: true, timeoutSeconds: 60, wallSampleUs: 10 });
      expect(recorded.exitCode).toBe(0);
      const transfers = readLogFile(log).records.filter((r) => r.type === 'crew-transfer');
      expect(transfers.length).toBeGreaterThan(0);
      expect((await verify({ logPath: log })).verdict.verdict).toBe('identical');
    }
  });

  test('a stretch of a sample period or more in the guest without an exit has a sample at each end', async () => {
    const dir = logFolder('kvm-timeline-stretch');
    const log = join(dir, 'sha256.rrlog');
    // sha256 computes for milliseconds between its few exits.
    const recorded = await record({ elf: builtGuestPath('sha256', 'x86_64', true), logPath: log, capture: true, timeoutSeconds: 60, wallSampleUs: 100 });
    expect(recorded.exitCode).toBe(0);
    const samples = readLogFile(log).records.filter((r): r is HostTime => r.type === 'host-time');
    const running = samples.filter((s) => s.activity === 1);
    // At the entry into the guest (exit N) and at the exit that ended the stretch (exit N + 1).
    const stretches = running.filter((s, i) => i > 0 && s.count === running[i - 1]!.count + 1n && s.ns - running[i - 1]!.ns >= 100_000n);
    expect(stretches.length, JSON.stringify(samples, (_, v) => (typeof v === 'bigint' ? v.toString() : v))).toBeGreaterThan(0);
    expect((await verify({ logPath: log })).verdict.verdict).toBe('identical');
  });
});
