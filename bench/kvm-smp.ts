/**
 * `npm run bench -- kvm-smp`: SMP record/replay with CREW on the kvm engine, side by side in
 * one run. For each workload and vCPU count, interleaved rounds of a plain kvm run, a CREW
 * recording and its replay, all with the same vCPUs (the best round of each, and the median
 * of the per-round ratios). Reports record/plain (target ≤ 1.5 on matmul, fft, radix-sort,
 * sha256), replay/record (target ≤ 2), ownership transfers and CREW faults (stops on a
 * protected page, first touches included), and what recording adds per fault and per
 * transfer: (record − plain) ÷ count, in µs. Every replay is checked against its recording.
 */
import { statSync } from 'node:fs';
import { cpus } from 'node:os';
import { scanLogFile } from '../src/analysis/log-reader.js';
import { kvmBenchContext } from './kvm.js';
import { sweep, timedRound } from './timed-round.js';

export interface KvmSmpRow {
  workload: string;
  vcpus: number;
  /** landmarks (exits and CREW faults) over all vCPUs, of the best recording */
  landmarks: bigint;
  plainSeconds: number;
  recordSeconds: number;
  replaySeconds: number;
  medianRecordOverPlain: number;
  medianReplayOverRecord: number;
  transfers: number;
  faults: number;
  logBytes: number;
}

/**
 * `name` or `name.small`: the four the record/plain target names first, then the
 * sharing-heavy ones and the rest (disk-checksum needs a disk). producer-consumer hands over
 * every item through an exit on kvm (~0.25 ms each: full size runs ~8 minutes even plain)
 * and entropy-mix reads the entropy register 100 000 times (an exit each), so those two run small.
 */
export const KVM_SMP_WORKLOADS = [
  'matmul',
  'fft',
  'radix-sort',
  'sha256',
  'lock-counter',
  'false-sharing',
  'producer-consumer.small',
  'atomic-histogram',
  'barrier-stencil',
  'racy-counter',
  'timer-ticks',
  'entropy-mix.small',
  'console-echo',
];
export const KVM_SMP_VCPUS = [2, 4, 8];
const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

export async function benchKvmSmp(
  workloads: readonly string[] = KVM_SMP_WORKLOADS,
  vcpuCounts: readonly number[] = KVM_SMP_VCPUS,
  rounds = 3,
  onRow: (row: KvmSmpRow) => void = () => {},
): Promise<KvmSmpRow[]> {
  return sweep('kvm-smp', 'x86_64', workloads, vcpuCounts, async ({ guest, vcpus, logPath }) => {
    const plain: number[] = [];
    const recorded: number[] = [];
    const replayed: number[] = [];
    let best: { landmarks: bigint; transfers: number; faults: number; logBytes: number } | undefined;
    for (let round = 0; round < rounds; round++) {
      const timed = await timedRound(guest, { engine: 'kvm', vcpus, logPath, timeoutSeconds: 300, replayTimeoutSeconds: 600 });
      plain.push(timed.plainSeconds);
      recorded.push(timed.recordSeconds);
      replayed.push(timed.replaySeconds);
      const { recorded: r, replayed: p } = timed;
      if (p.kind !== 'exited' || !p.result.console.equals(r.console) || p.result.stateHash !== r.stateHash) {
        throw new Error(`${guest.name} on ${vcpus} vCPUs: replay ${p.kind}, not identical to the recording`);
      }
      if (recorded[round] === Math.min(...recorded)) {
        let transfers = 0;
        let faults = 0;
        scanLogFile(logPath, (record) => {
          if (record.type === 'crew-transfer') transfers++;
          if (record.type === 'crew-fault') faults++;
        });
        best = { landmarks: r.vcpus.reduce((sum, v) => sum + v.landmark, 0n), transfers, faults, logBytes: statSync(logPath).size };
      }
    }
    const row: KvmSmpRow = {
      workload: guest.name,
      vcpus,
      ...best!,
      plainSeconds: Math.min(...plain),
      recordSeconds: Math.min(...recorded),
      replaySeconds: Math.min(...replayed),
      medianRecordOverPlain: median(recorded.map((r, i) => r / plain[i]!)),
      medianReplayOverRecord: median(replayed.map((p, i) => p / recorded[i]!)),
    };
    onRow(row);
    return row;
  });
}

/** What recording adds per CREW fault, in µs; null without faults. */
export function usPerFault(r: KvmSmpRow): number | null {
  return r.faults === 0 ? null : ((r.recordSeconds - r.plainSeconds) * 1e6) / r.faults;
}

/** What recording adds per transfer (an edge in the log), in µs; null without transfers. */
export function usPerTransfer(r: KvmSmpRow): number | null {
  return r.transfers === 0 ? null : ((r.recordSeconds - r.plainSeconds) * 1e6) / r.transfers;
}

export function kvmSmpCells(r: KvmSmpRow) {
  return {
    engine: 'kvm',
    workload: r.workload,
    vcpus: r.vcpus,
    landmarks: r.landmarks,
    plain_s: r.plainSeconds.toFixed(4),
    record_over_plain: (r.recordSeconds / r.plainSeconds).toFixed(3),
    record_over_plain_median: r.medianRecordOverPlain.toFixed(3),
    replay_over_record: (r.replaySeconds / r.recordSeconds).toFixed(3),
    replay_over_record_median: r.medianReplayOverRecord.toFixed(3),
    transfers: r.transfers,
    crew_faults: r.faults,
    us_per_fault: usPerFault(r)?.toFixed(1) ?? '',
    us_per_transfer: usPerTransfer(r)?.toFixed(1) ?? '',
    log_bytes: r.logBytes,
  };
}

export function formatKvmSmp(rows: readonly KvmSmpRow[]): string {
  const header =
    'workload            vCPUs  plain s  record s  replay s  record/plain (median)  replay/record (median)  transfers  faults  µs/fault  µs/transfer';
  const lines = rows.map((r) =>
    [
      r.workload.padEnd(18),
      String(r.vcpus).padStart(6),
      r.plainSeconds.toFixed(3).padStart(8),
      r.recordSeconds.toFixed(3).padStart(9),
      r.replaySeconds.toFixed(3).padStart(9),
      `${(r.recordSeconds / r.plainSeconds).toFixed(2)} (${r.medianRecordOverPlain.toFixed(2)})`.padStart(22),
      `${(r.replaySeconds / r.recordSeconds).toFixed(2)} (${r.medianReplayOverRecord.toFixed(2)})`.padStart(23),
      String(r.transfers).padStart(10),
      String(r.faults).padStart(7),
      (usPerFault(r)?.toFixed(0) ?? '-').padStart(9),
      (usPerTransfer(r)?.toFixed(0) ?? '-').padStart(12),
    ].join(' '),
  );
  return [
    header,
    ...lines,
    'whole runs (VM set-up included); faults: stops on a protected page, first touches included; µs/fault, µs/transfer: (record − plain) ÷ that count',
    'targets: record/plain ≤ 1.5 on matmul, fft, radix-sort, sha256; replay/record ≤ 2',
  ].join('\n');
}

/** The kvm-smp section of `npm run bench`. */
export async function kvmSmpBenchSection(rounds = 3): Promise<string> {
  const context = kvmBenchContext();
  if (!context.usable) return `kvm SMP: absent — not measured: ${context.reason}`;
  const caveat = context.comparable
    ? `on ${context.backend}; this machine is shared, so read the ratios, not the seconds`
    : `NOT COMPARABLE with a host: ${context.reason}; printed apart, for the record`;
  const body = [
    `kvm SMP with CREW by host page protection, plain / record / replay with the same vCPUs (full size, best of ${rounds} interleaved rounds, ${cpus().length} host cores) — ${caveat}:`,
    formatKvmSmp(await benchKvmSmp(KVM_SMP_WORKLOADS, KVM_SMP_VCPUS, rounds)),
  ].join('\n');
  return context.comparable ? body : body.split('\n').map((line) => `[not comparable] ${line}`).join('\n');
}
