/**
 * The timeline's costs, side by side in one run:
 *  - what keeping wall-clock samples costs a recording (`record --wall-samples`, a sample per
 *    millisecond of a running vCPU and one at each end of every stall of 2 µs or more; on
 *    kvm at the first exit after each millisecond): rounds of record without and with them,
 *    interleaved, best of each; time and log bytes;
 *  - what `rrkit log timeline` costs on a large log: seconds, records per second and the
 *    process's peak RSS, against `rrkit log stats` on the same log (the same reader, one pass).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kvmAvailability } from '../src/engines/kvm.js';
import { builtGuestPath, REPO_ROOT, type GuestArch } from '../src/guests/catalog.js';
import { native } from '../src/native.js';
import { record } from '../src/session/record.js';
import { scanLogFile } from '../src/analysis/log-reader.js';
import { secondsSince } from './timing.js';

export interface WallSampleRow {
  workload: string;
  vcpus: number;
  plainRecordSeconds: number;
  sampledRecordSeconds: number;
  /** CPU time of the whole process (every vCPU thread), less sensitive than wall time to a loaded machine */
  plainCpuSeconds: number;
  sampledCpuSeconds: number;
  plainLogBytes: number;
  sampledLogBytes: number;
  samples: number;
}

/** [workload(.small), vCPUs, architecture]: x86_64 records on kvm (left out without a usable /dev/kvm). */
const WALL_WORKLOADS: readonly [string, number, GuestArch][] = [
  ['matmul', 1, 'rv64'],
  ['sha256', 2, 'rv64'],
  ['radix-sort', 2, 'rv64'],
  ['lock-counter', 2, 'rv64'],
  ['producer-consumer.small', 2, 'rv64'],
  ['sha256', 1, 'x86_64'],
  ['entropy-mix', 1, 'x86_64'],
];

export async function benchWallSamples(repeats = 4): Promise<WallSampleRow[]> {
  const dir = mkdtempSync(join(tmpdir(), 'rrkit-bench-timeline-'));
  const rows: WallSampleRow[] = [];
  try {
    for (const [name, vcpus, arch] of WALL_WORKLOADS) {
      if (arch === 'x86_64' && !kvmAvailability().available) {
        process.stderr.write(`  ${name} on kvm left out: ${kvmAvailability().reason}\n`);
        continue;
      }
      const [workload, size] = name.split('.') as [string, string | undefined];
      const elf = builtGuestPath(workload, arch, size === 'small');
      const plainLog = join(dir, `${workload}.rrlog`);
      const sampledLog = join(dir, `${workload}.wall.rrlog`);
      const best = { plain: Infinity, sampled: Infinity, plainCpu: Infinity, sampledCpu: Infinity };
      const once = async (sampledRun: boolean): Promise<void> => {
        const t = process.hrtime.bigint();
        const cpu = process.cpuUsage();
        await record({ elf, logPath: sampledRun ? sampledLog : plainLog, force: true, vcpus, capture: true, timeoutSeconds: 300, ...(sampledRun ? { wallSampleUs: 1000 } : {}) });
        const used = process.cpuUsage(cpu);
        const seconds = secondsSince(t);
        const cpuSeconds = (used.user + used.system) / 1e6;
        if (sampledRun) [best.sampled, best.sampledCpu] = [Math.min(best.sampled, seconds), Math.min(best.sampledCpu, cpuSeconds)];
        else [best.plain, best.plainCpu] = [Math.min(best.plain, seconds), Math.min(best.plainCpu, cpuSeconds)];
      };
      // Alternating which goes first, so that neither always runs on a warmer (or busier) machine.
      for (let round = 0; round < repeats; round++) {
        await once(round % 2 === 1);
        await once(round % 2 === 0);
      }
      const [plain, sampled] = [best.plain, best.sampled];
      let samples = 0;
      scanLogFile(sampledLog, (r) => {
        if (r.type === 'host-time') samples++;
      });
      rows.push({
        workload: arch === 'x86_64' ? `${name} (kvm)` : name,
        vcpus,
        plainRecordSeconds: plain,
        sampledRecordSeconds: sampled,
        plainCpuSeconds: best.plainCpu,
        sampledCpuSeconds: best.sampledCpu,
        plainLogBytes: statSync(plainLog).size,
        sampledLogBytes: statSync(sampledLog).size,
        samples,
      });
      process.stderr.write(`  ${name} on ${vcpus} vCPU(s) done\n`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

export function formatWallSamples(rows: readonly WallSampleRow[]): string {
  const lines = ['workload                  vCPUs  record s  +samples s  ratio  cpu ratio   log bytes  +samples bytes  samples'];
  for (const r of rows) {
    lines.push(
      `${r.workload.padEnd(26)}${String(r.vcpus).padStart(5)}${r.plainRecordSeconds.toFixed(3).padStart(10)}${r.sampledRecordSeconds.toFixed(3).padStart(12)}` +
        `${(r.sampledRecordSeconds / r.plainRecordSeconds).toFixed(2).padStart(7)}${(r.sampledCpuSeconds / r.plainCpuSeconds).toFixed(2).padStart(11)}` +
        `${String(r.plainLogBytes).padStart(12)}${String(r.sampledLogBytes).padStart(16)}${String(r.samples).padStart(9)}`,
    );
  }
  return lines.join('\n');
}

export interface TimelineCostRow {
  command: string;
  seconds: number;
  maxRssMiB: number;
}

/** A synthetic 2-vCPU log of `records` records: interrupts, clock reads and CREW transfers, as an SMP run writes them. */
function writeLargeLog(path: string, records: number): void {
  const list: object[] = [];
  for (let i = 0; list.length < records; i++) {
    const count = BigInt(i) * 1000n;
    list.push({ type: 'interrupt', vcpu: i % 2, count, cause: 7n });
    list.push({ type: 'input', vcpu: i % 2, count: count + 10n, kind: 1, value: BigInt(i) * 977n });
    list.push({ type: 'crew-transfer', page: BigInt(i % 64), from: { vcpu: i % 2, count: count + 20n }, to: { vcpu: (i + 1) % 2, count: count + 30n } });
  }
  const header = {
    engine: 'emu',
    imageHash: '00'.repeat(32),
    imagePath: '/nonexistent.elf',
    vcpus: 2,
    ramMib: 128,
    crewGranularity: 4096,
    checkpointInterval: 0n,
    startUnixMs: 0n,
    configJson: '{"rrkit":1}',
  };
  native().logWrite(path, { header, records: list, close: true, maxChunkBytes: 64 * 1024 });
}

/** Runs the bundled command under /usr/bin/time for its peak RSS. */
function timed(args: string[]): TimelineCostRow {
  const t = process.hrtime.bigint();
  const run = spawnSync('/usr/bin/time', ['-f', '%M', join(REPO_ROOT, 'bin', 'rrkit'), ...args], { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] });
  const seconds = secondsSince(t);
  if (run.status !== 0) throw new Error(`rrkit ${args.join(' ')} failed: ${run.stderr}`);
  const kib = Number(run.stderr.trim().split('\n').at(-1));
  return { command: `rrkit ${args.slice(0, 2).join(' ')}`, seconds, maxRssMiB: kib / 1024 };
}

export interface TimelineCost {
  logBytes: number;
  records: number;
  rows: TimelineCostRow[];
}

/** For each log size: the best of `repeats` runs of log stats and log timeline (a flat RSS difference across sizes: the timeline's own memory is bounded). */
export function benchTimelineCost(sizes = [500_000, 2_000_000], repeats = 3): TimelineCost[] {
  const dir = mkdtempSync(join(tmpdir(), 'rrkit-bench-timeline-'));
  try {
    return sizes.map((records) => {
      const log = join(dir, `large-${records}.rrlog`);
      writeLargeLog(log, records);
      timed(['log', 'stats', log]); // builds the bundle if needed, warms the page cache
      const best = new Map<string, TimelineCostRow>();
      for (let round = 0; round < repeats; round++) {
        for (const args of [['log', 'stats', log], ['log', 'timeline', log, '-o', join(dir, 'large.trace.json')]]) {
          const row = timed(args);
          const kept = best.get(row.command);
          if (kept === undefined || row.seconds < kept.seconds) best.set(row.command, row);
        }
      }
      return { logBytes: statSync(log).size, records, rows: [...best.values()] };
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function formatTimelineCost(costs: readonly TimelineCost[]): string {
  const lines: string[] = [];
  for (const cost of costs) {
    lines.push(`a ${(cost.logBytes / 2 ** 20).toFixed(1)} MiB log of ${cost.records} records (2 vCPUs; a third of them CREW transfers):`);
    for (const r of cost.rows) {
      lines.push(`  ${r.command.padEnd(22)} ${r.seconds.toFixed(2).padStart(6)} s  ${((cost.records / r.seconds) / 1e6).toFixed(2)} M records/s  peak RSS ${r.maxRssMiB.toFixed(0)} MiB`);
    }
  }
  return lines.join('\n');
}
