/**
 * The kvm engine, measured side by side in one run (interleaved rounds, so that load on the
 * shared machine falls on every variant alike; the best round of each, and the median of
 * the per-round ratios):
 *
 * - guest compute against the same workload compiled for the host and run natively
 *   (guests/host/, the guest API as a Linux shim; same compiler flags): entry to exit on
 *   both sides (target ≥ 0.95);
 * - recording against a plain kvm run of the same workload (target ≤ 1.05);
 * - the cost of a VM exit, plain and recording, on exit-heavy workloads (entropy-mix reads
 *   the entropy register 100 000 times; disk-checksum reads a 16 MiB disk by DMA);
 * - log bytes per second of recording.
 *
 * Where /dev/kvm does not work the section says why and measures nothing; inside QEMU's
 * software emulation it measures, but says the figures are not comparable with a host's.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kvmAvailability, kvmDeviceFacts } from '../src/engines/kvm.js';
import { builtGuestPath, GUESTS_DIR } from '../src/guests/catalog.js';
import { writeDiskImage } from '../src/guests/disk-image.js';
import { record } from '../src/session/record.js';
import { runGuest } from '../src/session/run.js';

const COMPUTE = ['matmul', 'fft', 'radix-sort', 'sha256'];
const COMPUTE_ROUNDS = 9;
const EXIT_ROUNDS = 5;
const DISK_SECTORS = 32768; // 16 MiB of data

export interface KvmBenchContext {
  /** /dev/kvm works here */
  usable: boolean;
  /** the figures mean what they would on a host (false inside QEMU's software emulation) */
  comparable: boolean;
  /** why not usable or not comparable; empty otherwise */
  reason: string;
  /** what kind of KVM this is, for the report */
  backend: string;
}

export function kvmBenchContext(): KvmBenchContext {
  const availability = kvmAvailability();
  const pvm = existsSync('/sys/module/kvm_pvm');
  const backend = pvm ? "KVM's PVM backend (nested, shadow paging, no PMU)" : existsSync('/sys/module/kvm_amd') ? 'kvm_amd' : 'kvm_intel';
  if (!availability.available) return { usable: false, comparable: false, reason: availability.reason, backend: 'none' };
  let vendor = '';
  try {
    vendor = readFileSync('/sys/class/dmi/id/sys_vendor', 'utf8').trim();
  } catch {
    // no DMI: not a QEMU machine we can recognise
  }
  if (vendor === 'QEMU' && !/hypervisor/.test(readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => l.startsWith('flags')) ?? '')) {
    return { usable: true, comparable: false, reason: "this /dev/kvm runs inside QEMU's software emulation (TCG)", backend };
  }
  return { usable: true, comparable: true, reason: '', backend };
}

export interface ComputeRow {
  workload: string;
  exits: bigint;
  /** best round: the host program, entry to exit (its own clock) */
  nativeSeconds: number;
  /** best round: the kvm guest, entry to exit (first KVM_RUN to its exit) */
  guestSeconds: number;
  /** best round: whole engine runs (set-up, the guest, the final state hash), plain and recording */
  plainSeconds: number;
  recordSeconds: number;
  /** median over rounds of native/plain and record/plain, each from one round */
  medianComputeRatio: number;
  medianRecordRatio: number;
  logBytes: number;
}

export interface ExitRow {
  workload: string;
  exits: bigint;
  /** best rounds, whole runs */
  plainSeconds: number;
  recordSeconds: number;
  plainUsPerExit: number;
  recordUsPerExit: number;
  logBytes: number;
  logBytesPerSecond: number;
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/** Builds the host-shim programs (make -C guests ARCHES=host). */
function buildHostPrograms(workloads: readonly string[]): void {
  const targets = workloads.map((w) => `build/host/${w}.elf`);
  const make = spawnSync('make', ['-C', GUESTS_DIR, '-j2', '--no-print-directory', 'ARCHES=host', ...targets], { encoding: 'utf8' });
  if (make.status !== 0) throw new Error(`building the host programs failed: ${make.stderr.trim()}`);
}

/** Runs a host-shim program; its entry-to-exit seconds, from the line it prints on stderr. */
function runNative(workload: string): number {
  const result = spawnSync(join(GUESTS_DIR, 'build', 'host', `${workload}.elf`), { encoding: 'utf8' });
  const match = /rrkit-host: (\d+) ns/.exec(result.stderr);
  if (result.status !== 0 || match === null) throw new Error(`${workload} on the host: exit ${result.status}, ${result.stderr.trim()}`);
  return Number(match[1]) / 1e9;
}

export async function benchKvmCompute(workloads = COMPUTE, rounds = COMPUTE_ROUNDS): Promise<ComputeRow[]> {
  buildHostPrograms(workloads);
  const dir = mkdtempSync(join(tmpdir(), 'rrkit-bench-kvm-'));
  const rows: ComputeRow[] = [];
  try {
    for (const workload of workloads) {
      const elf = builtGuestPath(workload, 'x86_64');
      const logPath = join(dir, `${workload}.rrlog`);
      const native: number[] = [];
      const guest: number[] = [];
      const plain: number[] = [];
      const recorded: number[] = [];
      let exits = 0n;
      for (let round = 0; round < rounds; round++) {
        native.push(runNative(workload));
        const p = await runGuest({ elf, engine: 'kvm', capture: true });
        plain.push(p.wallSeconds);
        guest.push(kvmDeviceFacts(p)!.guestSeconds);
        const r = await record({ elf, engine: 'kvm', logPath, force: true, capture: true });
        recorded.push(r.wallSeconds);
        exits = r.vcpus[0]!.landmark;
      }
      rows.push({
        workload,
        exits,
        nativeSeconds: Math.min(...native),
        guestSeconds: Math.min(...guest),
        plainSeconds: Math.min(...plain),
        recordSeconds: Math.min(...recorded),
        medianComputeRatio: median(native.map((n, i) => n / guest[i]!)),
        medianRecordRatio: median(recorded.map((r, i) => r / plain[i]!)),
        logBytes: statSync(logPath).size,
      });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

export async function benchKvmExits(rounds = EXIT_ROUNDS): Promise<ExitRow[]> {
  const dir = mkdtempSync(join(tmpdir(), 'rrkit-bench-kvm-exits-'));
  const disk = join(dir, 'disk.img');
  await writeDiskImage(disk, DISK_SECTORS);
  const cases: { name: string; workload: string; disk?: string; diskShared?: boolean }[] = [
    { name: 'entropy-mix', workload: 'entropy-mix' },
    { name: 'disk-checksum (16 MiB, bytes logged)', workload: 'disk-checksum', disk },
    { name: 'disk-checksum (16 MiB, --disk-shared)', workload: 'disk-checksum', disk, diskShared: true },
  ];
  const rows: ExitRow[] = [];
  try {
    for (const c of cases) {
      const elf = builtGuestPath(c.workload, 'x86_64');
      const logPath = join(dir, 'run.rrlog');
      const plain: number[] = [];
      const recorded: number[] = [];
      const plainSeconds: number[] = [];
      let logBytes = 0;
      let recordSeconds = Infinity;
      let exits = 0n;
      for (let round = 0; round < rounds; round++) {
        const p = await runGuest({ elf, engine: 'kvm', capture: true, disk: c.disk === undefined ? undefined : { path: c.disk, sectors: 0, shared: false } });
        plain.push((p.wallSeconds * 1e6) / Number(p.vcpus[0]!.landmark));
        plainSeconds.push(p.wallSeconds);
        const r = await record({ elf, engine: 'kvm', logPath, force: true, capture: true, disk: c.disk, diskShared: c.diskShared });
        recorded.push((r.wallSeconds * 1e6) / Number(r.vcpus[0]!.landmark));
        if (r.wallSeconds < recordSeconds) {
          recordSeconds = r.wallSeconds;
          logBytes = statSync(logPath).size;
          exits = r.vcpus[0]!.landmark;
        }
      }
      rows.push({
        workload: c.name,
        exits,
        plainSeconds: Math.min(...plainSeconds),
        recordSeconds,
        plainUsPerExit: Math.min(...plain),
        recordUsPerExit: Math.min(...recorded),
        logBytes,
        logBytesPerSecond: logBytes / recordSeconds,
      });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

const ratio = (x: number): string => x.toFixed(2);

export function formatKvmCompute(rows: readonly ComputeRow[]): string {
  const header =
    'workload     exits  native s  guest s  native/guest (median)  plain run s  record s  record/plain (median)  log B  log B/s';
  const lines = rows.map((r) =>
    [
      r.workload.padEnd(11),
      r.exits.toString().padStart(6),
      r.nativeSeconds.toFixed(3).padStart(9),
      r.guestSeconds.toFixed(3).padStart(8),
      `${ratio(r.nativeSeconds / r.guestSeconds)} (${ratio(r.medianComputeRatio)})`.padStart(22),
      r.plainSeconds.toFixed(3).padStart(12),
      r.recordSeconds.toFixed(3).padStart(9),
      `${ratio(r.recordSeconds / r.plainSeconds)} (${ratio(r.medianRecordRatio)})`.padStart(22),
      String(r.logBytes).padStart(6),
      (r.logBytes / r.recordSeconds).toFixed(0).padStart(8),
    ].join(' '),
  );
  return [
    header,
    ...lines,
    'native and guest: the program from entry to exit; plain run and record: whole engine runs (set-up, guest, final state hash)',
    'targets: native/guest ≥ 0.95 (guest compute), record/plain ≤ 1.05',
  ].join('\n');
}

export function formatKvmExits(rows: readonly ExitRow[]): string {
  const header =
    'workload                                 exits  plain s  record s  record/plain  µs/exit plain  µs/exit record     log B    log B/s';
  const lines = rows.map((r) =>
    [
      r.workload.padEnd(38),
      r.exits.toString().padStart(7),
      r.plainSeconds.toFixed(3).padStart(8),
      r.recordSeconds.toFixed(3).padStart(9),
      ratio(r.recordSeconds / r.plainSeconds).padStart(13),
      r.plainUsPerExit.toFixed(1).padStart(14),
      r.recordUsPerExit.toFixed(1).padStart(15),
      String(r.logBytes).padStart(9),
      r.logBytesPerSecond.toFixed(0).padStart(10),
    ].join(' '),
  );
  return [
    header,
    ...lines,
    'exits: of the best recording (the disk driver polls, so the count varies with host timing); µs/exit: whole run over exits',
  ].join('\n');
}

/** The whole kvm section of `npm run bench`. */
export async function kvmBenchSection(): Promise<string> {
  const context = kvmBenchContext();
  if (!context.usable) return `kvm: absent — not measured: ${context.reason}`;
  const caveat = context.comparable
    ? `on ${context.backend}; this machine is shared, so read the ratios, not the seconds`
    : `NOT COMPARABLE with a host: ${context.reason}; printed apart, for the record`;
  const compute = formatKvmCompute(await benchKvmCompute());
  const exits = formatKvmExits(await benchKvmExits());
  const body = [
    `kvm guest compute against the same program on the host, and recording (full size, best of ${COMPUTE_ROUNDS} interleaved rounds) — ${caveat}:`,
    compute,
    '',
    `kvm exit-heavy workloads, plain against recording (best of ${EXIT_ROUNDS} interleaved rounds):`,
    exits,
  ].join('\n');
  return context.comparable ? body : body.split('\n').map((line) => `[not comparable] ${line}`).join('\n');
}
