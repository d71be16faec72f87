/**
 * A kvm log altered after the fact is caught by verify, and the report names the vCPU and
 * the landmark (the exit) where the replay stopped following the log — near the change,
 * never before it. Also: the disk workload with and without --disk-shared, with the log
 * sizes. (Needs /dev/kvm; fails without it.)
 */
import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { formatDivergence } from '../../src/analysis/divergence.js';
import { readLogFile } from '../../src/analysis/log-reader.js';
import type { LogRecord } from '../../src/analysis/log-records.js';
import { kvmAvailability } from '../../src/engines/kvm.js';
import { builtGuestPath } from '../../src/guests/catalog.js';
import { writeDiskImage } from '../../src/guests/disk-image.js';
import { native } from '../../src/native.js';
import { record } from '../../src/session/record.js';
import { verify } from '../../src/session/verify.js';
import { logFolder } from '../kept-logs.js';

const CHECKPOINT_INTERVAL = 20n;

beforeAll(() => {
  const kvm = kvmAvailability();
  expect(kvm.available, kvm.reason).toBe(true);
});

async function recordSmall(name: string, logPath: string, disk?: string, diskShared = false) {
  return record({
    elf: builtGuestPath(name, 'x86_64', true),
    logPath,
    capture: true,
    checkpointInterval: CHECKPOINT_INTERVAL,
    timeoutSeconds: 60,
    disk,
    diskShared,
  });
}

/** Rewrites a log through the C++ writer with `change` applied to its records. */
function rewriteLog(from: string, to: string, change: (records: LogRecord[]) => void): void {
  const log = readLogFile(from);
  const records = [...log.records];
  change(records);
  native().logWrite(to, { header: log.header, records, close: log.complete, maxChunkBytes: 64 * 1024 });
}

async function divergenceOf(logPath: string) {
  const { verdict } = await verify({ logPath, timeoutSeconds: 60 });
  expect(verdict.verdict).toBe('diverged');
  if (verdict.verdict !== 'diverged') throw new Error('not diverged');
  return verdict.report;
}

describe('a tampered kvm log is caught by verify, at a landmark', () => {
  test('an altered entropy value: a checkpoint within the interval after it differs; the one before matched', async () => {
    const dir = logFolder('kvm-tampered-value');
    const original = join(dir, 'entropy.rrlog');
    await recordSmall('entropy-mix', original);
    const tampered = join(dir, 'tampered.rrlog');
    let alteredAt = -1n;
    rewriteLog(original, tampered, (records) => {
      const inputs = records.filter((r): r is Extract<LogRecord, { type: 'input' }> => r.type === 'input');
      const victim = inputs[Math.floor(inputs.length / 2)]!;
      victim.value ^= 1n;
      alteredAt = victim.count;
    });
    const report = await divergenceOf(tampered);
    expect(report.vcpu).toBe(0);
    expect(report.count).toBeGreaterThan(alteredAt);
    expect(report.count - alteredAt).toBeLessThanOrEqual(CHECKPOINT_INTERVAL);
    expect(report.what).toMatch(/hash/);
    expect(report.lastMatchingCheckpoint![0]!).toBeLessThanOrEqual(alteredAt);
    expect(formatDivergence(report)).toMatch(new RegExp(`^replay diverged at vcpu 0 @ exit ${report.count}: `));
  });

  test('an input moved to a later exit: diverges exactly at the exit where the guest reads it', async () => {
    const dir = logFolder('kvm-tampered-landmark');
    const original = join(dir, 'entropy.rrlog');
    await recordSmall('entropy-mix', original);
    const tampered = join(dir, 'tampered.rrlog');
    let readAt = -1n;
    rewriteLog(original, tampered, (records) => {
      const victim = records.find((r): r is Extract<LogRecord, { type: 'input' }> => r.type === 'input')!;
      readAt = victim.count;
      victim.count += 3n;
    });
    const report = await divergenceOf(tampered);
    expect(report.count).toBe(readAt);
    expect(report.what).toMatch(/input/);
  });

  test('a guest that exits where the recording went on: a divergence at that exit, not an early end of the log', async () => {
    // Without the disk's first completion interrupt the guest gives up and exits early. With
    // no checkpoint between (one per 100 000 exits) and a chunk per record, the replay meets
    // that exit before it has read the log's end: it must read on and find the recording went on.
    const dir = logFolder('kvm-tampered-end');
    const original = join(dir, 'disk.rrlog');
    const disk = join(dir, 'disk.img');
    await writeDiskImage(disk, 512);
    await record({
      elf: builtGuestPath('disk-checksum', 'x86_64', true),
      logPath: original,
      capture: true,
      checkpointInterval: 100_000n,
      timeoutSeconds: 60,
      disk,
    });
    const log = readLogFile(original);
    const recordedEnd = log.records.find((r) => r.type === 'machine-stop')!.count;
    const records = [...log.records];
    records.splice(records.findIndex((r) => r.type === 'delayed-interrupt'), 1);
    const tampered = join(dir, 'tampered.rrlog');
    native().logWrite(tampered, { header: log.header, records, close: true, maxChunkBytes: 64 });
    const report = await divergenceOf(tampered);
    expect(report.count).toBeLessThan(recordedEnd);
    expect(report.what).toMatch(/exit/);
    expect(formatDivergence(report)).toContain(`exit at exit ${recordedEnd}`);
  });

  test('an interrupt removed, and one with another vector: neither replays silently', async () => {
    // (An interrupt merely moved to a later exit can replay to the same end: the guest waits
    // for it by polling the disk's status, one more poll here is one fewer later, and the
    // log holds nothing that tells the two histories apart until a checkpoint falls between.)
    const dir = logFolder('kvm-tampered-interrupt');
    const original = join(dir, 'disk.rrlog');
    const disk = join(dir, 'disk.img');
    await writeDiskImage(disk, 512);
    await recordSmall('disk-checksum', original, disk);
    const interrupts = readLogFile(original).records.filter((r) => r.type === 'delayed-interrupt');
    expect(interrupts.length).toBeGreaterThan(2);

    const removed = join(dir, 'removed.rrlog');
    rewriteLog(original, removed, (records) => {
      records.splice(records.findIndex((r) => r.type === 'delayed-interrupt'), 1);
    });
    await divergenceOf(removed);

    const retargeted = join(dir, 'retargeted.rrlog');
    let at = -1n;
    rewriteLog(original, retargeted, (records) => {
      const victim = records.find((r): r is Extract<LogRecord, { type: 'delayed-interrupt' }> => r.type === 'delayed-interrupt')!;
      victim.cause = 0x20n; // the timer's vector: the disk's completion never arrives
      at = victim.count;
    });
    const report = await divergenceOf(retargeted);
    expect(report.count).toBeGreaterThan(at);
  });

  test('an altered byte of DMA data: the next checkpoint (or the final state) differs', async () => {
    const dir = logFolder('kvm-tampered-dma');
    const original = join(dir, 'disk.rrlog');
    const disk = join(dir, 'disk.img');
    await writeDiskImage(disk, 512);
    await recordSmall('disk-checksum', original, disk);
    const tampered = join(dir, 'tampered.rrlog');
    let writtenAt = -1n;
    rewriteLog(original, tampered, (records) => {
      const dmas = records.filter((r): r is Extract<LogRecord, { type: 'dma-write' }> => r.type === 'dma-write');
      const victim = dmas[1]!;
      victim.data = Uint8Array.from(victim.data);
      victim.data[100]! ^= 0x40;
      writtenAt = victim.count;
    });
    const report = await divergenceOf(tampered);
    expect(report.count).toBeGreaterThanOrEqual(writtenAt);
    expect(report.what).toMatch(/hash|console output|exit code/);
  });
});

describe('the disk workload with and without --disk-shared', () => {
  test('both replay exactly; the shared log holds where the bytes came from, not the bytes', async () => {
    const dir = logFolder('kvm-disk-shared');
    const disk = join(dir, 'disk.img');
    const image = await writeDiskImage(disk, 2048); // 1 MiB of data
    const logged = join(dir, 'logged.rrlog');
    const shared = join(dir, 'shared.rrlog');
    const a = await recordSmall('disk-checksum', logged, disk, false);
    const b = await recordSmall('disk-checksum', shared, disk, true);
    expect(a.console.toString()).toMatch(/^disk-checksum: ok sectors=2048 /m);
    expect(b.console.toString()).toBe(a.console.toString());

    for (const log of [logged, shared]) {
      const { verdict } = await verify({ logPath: log, timeoutSeconds: 60 });
      expect(verdict.verdict, log).toBe('identical');
    }
    const loggedBytes = statSync(logged).size;
    const sharedBytes = statSync(shared).size;
    const types = (path: string): Set<string> => new Set(readLogFile(path).records.map((r) => r.type));
    expect(types(logged).has('dma-write')).toBe(true);
    expect(types(shared).has('dma-write')).toBe(false);
    expect(types(shared).has('disk-read')).toBe(true);
    expect(loggedBytes).toBeGreaterThan(image.bytes - 512); // every data byte read is in the log
    expect(sharedBytes).toBeLessThan(64 * 1024);
    writeFileSync(join(dir, 'sizes.txt'), `logged ${loggedBytes} bytes, shared ${sharedBytes} bytes for ${image.bytes} bytes of disk\n`);
    process.stderr.write(`rrkit test: disk-checksum log ${loggedBytes} bytes, with --disk-shared ${sharedBytes} bytes (disk ${image.bytes} bytes)\n`);
  });

  test('a shared-disk log refuses a different image, and says to give one when the recorded image is gone', async () => {
    const dir = logFolder('kvm-disk-shared-wrong');
    const disk = join(dir, 'disk.img');
    await writeDiskImage(disk, 256, 1);
    const other = join(dir, 'other.img');
    await writeDiskImage(other, 256, 2);
    const log = join(dir, 'shared.rrlog');
    await recordSmall('disk-checksum', log, disk, true);
    await expect(verify({ logPath: log, disk: other })).rejects.toThrow(/is not the disk image this log was recorded with/);
    await expect(verify({ logPath: log, disk: join(dir, 'missing.img') })).rejects.toThrow(/no such file/);
  });
});
