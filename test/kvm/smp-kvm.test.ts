/**
 * SMP record/replay on the kvm engine (needs a working /dev/kvm: these tests fail, never skip,
 * without one; machines without it run them inside QEMU, test/kvm-sandbox): every x86_64
 * workload (small size) self-checks in a plain run on 2, 4 and 8 vCPUs, and is recorded on 2,
 * 4 and 8 with CREW by host page protection, replayed and compared (console output, exit
 * code, every vCPU's final landmark, final state hash); transfer statistics in `log stats`;
 * damaged transfer edges caught as divergences, never a hang; the options' errors in one line.
 */
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { readLogFile } from '../../src/analysis/log-reader.js';
import type { LogRecord } from '../../src/analysis/log-records.js';
import { logFileStats } from '../../src/analysis/log-stats.js';
import { kvmAvailability } from '../../src/engines/kvm.js';
import { builtGuestPath, GUESTS_DIR, WORKLOADS } from '../../src/guests/catalog.js';
import { writeDiskImage } from '../../src/guests/disk-image.js';
import { native } from '../../src/native.js';
import { record } from '../../src/session/record.js';
import { replay } from '../../src/session/replay.js';
import { runGuest } from '../../src/session/run.js';
import { verify } from '../../src/session/verify.js';
import { logFolder } from '../kept-logs.js';

const CONSOLE_INPUT = Buffer.from('hello rrkit\nrecord and replay\nend\n');
const VCPU_COUNTS = [2, 4, 8];
/** the damaged-log tests: the smallest and a crowded machine */
const DAMAGE_VCPU_COUNTS = [2, 4];
type Transfer = Extract<LogRecord, { type: 'crew-transfer' }>;
type Fault = Extract<LogRecord, { type: 'crew-fault' }>;

function resultLine(name: string, output: string): string | undefined {
  return output.split('\n').find((line) => line.startsWith(`${name}: `));
}

beforeAll(() => {
  const kvm = kvmAvailability();
  expect(kvm.available, kvm.reason).toBe(true);
});

function inputFor(name: string) {
  const workload = WORKLOADS.find((w) => w.name === name)!;
  return workload.needsConsoleInput ? { kind: 'bytes' as const, data: CONSOLE_INPUT } : { kind: 'none' as const };
}

async function recordSmall(name: string, vcpus: number, logPath: string, disk?: string) {
  return record({
    elf: builtGuestPath(name, 'x86_64', true),
    logPath,
    vcpus,
    capture: true,
    input: inputFor(name),
    timeoutSeconds: 120,
    disk,
  });
}

describe.each(VCPU_COUNTS)('every x86_64 workload self-checks in a plain kvm run on %i vCPUs', (vcpus) => {
  for (const workload of WORKLOADS) {
    test(`${workload.name}: ok`, async () => {
      const dir = logFolder(`kvm-smp-plain-${workload.name}-${vcpus}`);
      const disk = workload.needsDisk ? join(dir, 'disk.img') : undefined;
      if (disk !== undefined) await writeDiskImage(disk, 512);
      const result = await runGuest({
        elf: builtGuestPath(workload.name, 'x86_64', true),
        engine: 'kvm',
        vcpus,
        capture: true,
        input: inputFor(workload.name),
        timeoutSeconds: 120,
        disk: disk === undefined ? undefined : { path: disk, sectors: 0, shared: false },
      });
      const output = result.console.toString();
      expect(result.outcome, output).toBe('exited');
      expect(resultLine(workload.name, output), output).toMatch(new RegExp(`^${workload.name}: ok\\b`));
      expect(result.exitCode).toBe(0);
      expect(result.vcpus.length).toBe(vcpus);
    });
  }
});

/**
 * The `ordinary` workloads busy-wait without `cpu_relax()`, so a waiting loop makes no exit:
 * on kvm a running holder yields a page only at its next exit (no PMU: a kick is no
 * position), so their recording waits for ever (docs/crew.md, "Why it cannot deadlock
 * (kvm)"). Spin detection, which makes them recordable, is the emu engine's.
 */
const KVM_RECORDABLE = WORKLOADS.filter((w) => w.class !== 'ordinary');

describe.each(VCPU_COUNTS)('every x86_64 workload that exits while it waits, on %i vCPUs, recorded with CREW and replayed on kvm', (vcpus) => {
  for (const [index, workload] of KVM_RECORDABLE.entries()) {
    test(`${workload.name}: replay identical to the recording, also on a shuffled schedule`, async () => {
      const dir = logFolder(`kvm-smp-${workload.name}-${vcpus}`);
      const disk = workload.needsDisk ? join(dir, 'disk.img') : undefined;
      if (disk !== undefined) await writeDiskImage(disk, 512);
      const logPath = join(dir, 'run.rrlog');
      const recorded = await recordSmall(workload.name, vcpus, logPath, disk);
      const output = recorded.console.toString();
      expect(resultLine(workload.name, output), output).toMatch(new RegExp(`^${workload.name}: ok\\b`));
      expect(recorded.exitCode).toBe(0);
      expect(recorded.vcpus.length).toBe(vcpus);

      const log = readLogFile(logPath);
      expect(log.complete).toBe(true);
      expect(log.header.vcpus).toBe(vcpus);
      expect(log.header.crewGranularity).toBe(4096);
      // Every fault is its own landmark, and each says how many edges lead into it.
      const faults = log.records.filter((r): r is Fault => r.type === 'crew-fault');
      const transfers = log.records.filter((r): r is Transfer => r.type === 'crew-transfer');
      expect(faults.reduce((sum, f) => sum + f.edges, 0n)).toBeLessThanOrEqual(BigInt(transfers.length));

      // Twice: then with each vCPU thread pausing at random after its gates (docs/crew.md, "Shuffled replays").
      for (const shuffleSeed of [undefined, vcpus * 100 + index + 1]) {
        const replayed = await replay({ logPath, capture: true, timeoutSeconds: 120, shuffleSeed });
        const report = JSON.stringify(replayed.kind === 'diverged' ? replayed.report : {}, (_k, v) => (typeof v === 'bigint' ? `${v}` : v));
        expect(replayed.kind, `${shuffleSeed === undefined ? '' : `shuffled (seed ${shuffleSeed}): `}${report}`).toBe('exited');
        expect(replayed.result.console.equals(recorded.console)).toBe(true);
        expect(replayed.result.exitCode).toBe(recorded.exitCode);
        expect(replayed.result.stateHash).toBe(recorded.stateHash);
        expect(replayed.result.vcpus.map((v) => v.landmark)).toEqual(recorded.vcpus.map((v) => v.landmark));
      }
    });
  }
});

describe('kvm SMP: plain runs, statistics and options', () => {
  test('the deterministic workloads print the same line on 1 and 8 vCPUs in a plain run', async () => {
    for (const name of ['matmul', 'radix-sort', 'barrier-stencil']) {
      const lines = [];
      for (const vcpus of [1, 8]) {
        const result = await runGuest({ elf: builtGuestPath(name, 'x86_64', true), engine: 'kvm', vcpus, capture: true, timeoutSeconds: 120 });
        lines.push(resultLine(name, result.console.toString()));
      }
      expect(lines[0]).toMatch(new RegExp(`^${name}: ok\\b`));
      expect(lines[1]).toBe(lines[0]);
    }
  });

  test('an image without the SMP runtime (no hart areas) is refused on several vCPUs in one line', async () => {
    // guests/kvm-tests/ are raw assembly with no runtime, so no __hart_areas.
    const elf = join(GUESTS_DIR, 'build', 'x86_64', 'kvm-tests', 'triple-fault.elf');
    const error = await runGuest({ elf, engine: 'kvm', vcpus: 2, capture: true, timeoutSeconds: 5 }).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(error?.message).toMatch(/^this image was not built with rrkit's SMP x86_64 runtime \(no __hart_areas\): it runs on one vCPU$/);
  });

  test('log stats counts the transfers of a kvm SMP log, per vCPU pair and per page, as on emu', async () => {
    const dir = logFolder('kvm-smp-stats');
    const logPath = join(dir, 'lock.rrlog');
    await recordSmall('lock-counter', 2, logPath);
    const stats = logFileStats(logPath);
    const transfers = readLogFile(logPath).records.filter((r) => r.type === 'crew-transfer').length;
    expect(transfers).toBeGreaterThan(0);
    expect(stats.crew?.transfers).toBe(transfers);
    expect(stats.landmarkUnit).toBe('exits');
    expect(stats.crew?.hottestPages[0]?.where).toMatch(/^guest 0x[0-9a-f]+/);
  });

  test('--crew-granularity below a host page, or above 1 MiB, and --crew-hold are refused in one line before anything runs', async () => {
    const dir = logFolder('kvm-smp-granularity');
    for (const bytes of [1024, 2 * 1024 * 1024]) {
      await expect(
        record({ elf: builtGuestPath('matmul', 'x86_64', true), logPath: join(dir, 'x.rrlog'), vcpus: 2, crewGranularity: bytes }),
      ).rejects.toThrow(/^the kvm engine's CREW pages are 4 KiB to 1 MiB/);
    }
    await expect(
      record({ elf: builtGuestPath('matmul', 'x86_64', true), logPath: join(dir, 'x.rrlog'), vcpus: 2, crewHold: 1000 }),
    ).rejects.toThrow(/^--crew-hold is for engines that count instructions: the kvm engine gives a page up at the holder's next exit$/);
    const wide = join(dir, 'wide.rrlog');
    const recorded = await record({ elf: builtGuestPath('radix-sort', 'x86_64', true), logPath: wide, vcpus: 2, crewGranularity: 65536, capture: true });
    expect(resultLine('radix-sort', recorded.console.toString())).toMatch(/^radix-sort: ok/);
    expect((await verify({ logPath: wide })).verdict.verdict).toBe('identical');
  });
});

describe('damaged kvm SMP logs: caught as divergences, never a hang', () => {
  function rewriteLog(from: string, to: string, change: (records: LogRecord[]) => LogRecord[]): void {
    const log = readLogFile(from);
    native().logWrite(to, { header: log.header, records: change([...log.records]), close: log.complete, maxChunkBytes: 64 * 1024 });
  }

  async function divergenceOf(logPath: string) {
    const { verdict } = await verify({ logPath, timeoutSeconds: 60 });
    expect(verdict.verdict).toBe('diverged');
    if (verdict.verdict !== 'diverged') throw new Error('not diverged');
    return verdict.report;
  }

  test.each(DAMAGE_VCPU_COUNTS)('a transfer edge removed on %i vCPUs: the fault it led into reports a missing edge', async (vcpus) => {
    const dir = logFolder(`kvm-smp-removed-${vcpus}`);
    const original = join(dir, 'racy.rrlog');
    await recordSmall('racy-counter', vcpus, original);
    const damaged = join(dir, 'removed.rrlog');
    let victim: Transfer | undefined;
    rewriteLog(original, damaged, (records) => {
      const transfers = records.filter((r): r is Transfer => r.type === 'crew-transfer');
      victim = transfers.reduce((a, b) => (b.from.count > a.from.count ? b : a));
      return records.filter((r) => r !== victim);
    });
    const report = await divergenceOf(damaged);
    expect(report.vcpu).toBe(victim!.to.vcpu);
    expect(report.count).toBe(victim!.to.count);
    expect(report.what).toBe('transfer edges');
  }, 60_000);

  test('an edge moved to a later fault, or one that makes a cycle: the log is refused as out of order where the replay reads it', async () => {
    const dir = logFolder('kvm-smp-moved');
    const original = join(dir, 'lock.rrlog');
    await recordSmall('lock-counter', 2, original);
    const moved = join(dir, 'moved.rrlog');
    let from: bigint = -1n;
    rewriteLog(original, moved, (records) => {
      const transfers = records.filter((r): r is Transfer => r.type === 'crew-transfer');
      const victim = transfers[0]!;
      const faults = records.filter((r): r is Fault => r.type === 'crew-fault' && r.vcpu === victim.to.vcpu && r.count > victim.to.count);
      from = victim.to.count;
      return records.map((r) => (r === victim ? { ...victim, to: { vcpu: victim.to.vcpu, count: faults[0]!.count } } : r));
    });
    // The edge now names a landmark of its vCPU above records logged after it.
    await expect(verify({ logPath: moved, timeoutSeconds: 60 })).rejects.toThrow(
      new RegExp(`^the log is out of order in chunk \\d+: vcpu \\d+ @ \\d+ after @ \\d+ `),
    );
    expect(from).toBeGreaterThan(0n);

    const cycle = join(dir, 'cycle.rrlog');
    rewriteLog(original, cycle, (records) => {
      const at = records.findIndex((r) => r.type === 'crew-transfer' && r.from.count > 1n);
      const e = records[at] as Transfer;
      const back: Transfer = { ...e, from: { vcpu: e.to.vcpu, count: e.to.count + 1n }, to: { vcpu: e.from.vcpu, count: e.from.count - 1n } };
      records.splice(at + 1, 0, back);
      return records;
    });
    await expect(verify({ logPath: cycle, timeoutSeconds: 60 })).rejects.toThrow(/cycle/);
  }, 60_000);

  // The log does not say which landmarks are exits: without the record, the replay does not
  // stop at that instruction and counts its next exit in its place; the next recorded stop,
  // armed an exit later, can realign the counts at the next access to its page, and then
  // only the final state can tell (docs/kvm-smp.md, "Limits").
  test('a fault record removed: a divergence at or after it, or a replay whose final state is still the recording\'s', async () => {
    const dir = logFolder('kvm-smp-fault-removed');
    const original = join(dir, 'matmul.rrlog');
    await recordSmall('matmul', 2, original);
    const damaged = join(dir, 'no-fault.rrlog');
    let removed: Fault | undefined;
    rewriteLog(original, damaged, (records) => {
      const faults = records.filter((r): r is Fault => r.type === 'crew-fault' && r.edges === 0n);
      removed = faults[Math.floor(faults.length / 2)]!;
      return records.filter((r) => r !== removed);
    });
    const { verdict } = await verify({ logPath: damaged, timeoutSeconds: 60 });
    expect(['diverged', 'identical']).toContain(verdict.verdict);
    if (verdict.verdict === 'diverged') {
      expect(verdict.report.vcpu).toBe(removed!.vcpu);
      expect(verdict.report.count).toBeGreaterThanOrEqual(removed!.count);
    }
  }, 60_000);

  test('two consecutive stops of a vCPU, the first one\'s record removed: a divergence (on that vCPU, at or after it)', async () => {
    const dir = logFolder('kvm-smp-fault-removed-consecutive');
    // A stop with no edges, followed at the very next landmark by another stop of the same
    // vCPU. Which stops a recording makes depends on timing (pages along a stop, sweeps), so
    // record until one has such a pair.
    const pairIn = (records: LogRecord[]) => {
      const faults = records.filter((r): r is Fault => r.type === 'crew-fault');
      return faults.find((f) => f.edges === 0n && faults.some((g) => g.vcpu === f.vcpu && g.count === f.count + 1n));
    };
    let original = '';
    let removed: Fault | undefined;
    for (let attempt = 0; attempt < 10 && removed === undefined; attempt++) {
      original = join(dir, `radix-sort-${attempt}.rrlog`);
      await recordSmall('radix-sort', 2, original);
      removed = pairIn([...readLogFile(original).records]);
    }
    expect(removed).toBeDefined();
    const damaged = join(dir, 'no-fault.rrlog');
    rewriteLog(original, damaged, (records) => {
      const again = pairIn(records);
      expect(again).toEqual(removed);
      return records.filter((r) => r !== again);
    });
    const report = await divergenceOf(damaged);
    const said = `${JSON.stringify(report, (_, v) => (typeof v === 'bigint' ? String(v) : v))} for vcpu ${removed!.vcpu} @ ${removed!.count}`;
    // Without the record that vCPU counts one landmark fewer from there, so it can pass a
    // landmark another vCPU waits for early; that one can then be the first to go astray.
    // On the damaged vCPU itself the divergence is never before the removed stop.
    if (report.vcpu === removed!.vcpu) expect(report.count, said).toBeGreaterThanOrEqual(removed!.count);
  }, 60_000);
});
