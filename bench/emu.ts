/**
 * emu speed: MIPS per hart on the compute workloads (full size) on 1 and 2 harts, how
 * well 2 harts scale, and the same ELF under qemu-system-riscv64 (TCG) in the same run.
 *
 * Times are end to end (emu: the whole emuRun call, machine set-up and final state hash
 * included; QEMU: the whole process, start-up included), best of `repeats`: the machine
 * is shared, and the minimum is the least disturbed run.
 */
import { spawnSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { runGuest } from '../src/session/run.js';
import { WORKLOADS, builtGuestPath } from '../src/guests/catalog.js';
import { secondsSince } from './timing.js';

export interface EmuBenchRow {
  workload: string;
  harts: number;
  instructions: bigint;
  emuSeconds: number;
  mipsPerHart: number;
  /** 1-hart time over this run's time, for the same work (1 on the 1-hart row). */
  speedup: number;
  qemuSeconds: number;
  qemuOverEmu: number;
  /** QEMU's time less its time for the workload's small build (mostly start-up), over emu's. */
  qemuNetOverEmu: number;
}

export interface EmuBenchReport {
  loadAverage: readonly number[];
  repeats: number;
  rows: EmuBenchRow[];
}


function qemuSeconds(elf: string, harts: number): number {
  const started = process.hrtime.bigint();
  const r = spawnSync(
    'qemu-system-riscv64',
    ['-machine', 'virt', '-bios', 'none', '-nographic', '-smp', String(harts), '-kernel', elf],
    { stdio: ['ignore', 'ignore', 'inherit'], timeout: 300_000 },
  );
  if (r.error) throw r.error;
  return secondsSince(started);
}

/** One emu run, end to end: seconds and instructions retired over all harts. */
async function emuRun(elf: string, name: string, harts: number): Promise<{ seconds: number; instructions: bigint }> {
  const started = process.hrtime.bigint();
  const r = await runGuest({ elf, vcpus: harts, capture: true });
  const s = secondsSince(started);
  if (r.outcome !== 'exited' || r.exitCode !== 0) throw new Error(`${name} on ${harts} harts: ${r.outcome} ${r.error}`);
  return { seconds: s, instructions: r.vcpus.reduce((sum, v) => sum + v.landmark, 0n) };
}

/**
 * Per workload, rounds that run every configuration once (emu on 1 and 2 harts, QEMU on
 * both), so that A and B see the same load on the shared machine; the best round wins.
 */
export async function benchEmu(harts: readonly number[] = [1, 2], repeats = 3): Promise<EmuBenchReport> {
  const loadAverage = loadavg();
  const rows: EmuBenchRow[] = [];
  for (const workload of WORKLOADS.filter((w) => w.class === 'compute')) {
    const elf = builtGuestPath(workload.name, 'rv64');
    const emuBest = new Map<number, { seconds: number; instructions: bigint }>();
    const qemuBest = new Map<number, number>();
    const qemuSmallBest = new Map<number, number>();
    const smallElf = builtGuestPath(workload.name, 'rv64', true);
    for (let round = 0; round < repeats; round++) {
      for (const n of harts) {
        const r = await emuRun(elf, workload.name, n);
        if (r.seconds < (emuBest.get(n)?.seconds ?? Infinity)) emuBest.set(n, r);
        if (round < 2) {
          qemuBest.set(n, Math.min(qemuBest.get(n) ?? Infinity, qemuSeconds(elf, n)));
          qemuSmallBest.set(n, Math.min(qemuSmallBest.get(n) ?? Infinity, qemuSeconds(smallElf, n)));
        }
      }
    }
    const oneHart = emuBest.get(1)?.seconds;
    for (const n of harts) {
      const b = emuBest.get(n)!;
      const q = qemuBest.get(n)!;
      rows.push({
        workload: workload.name,
        harts: n,
        instructions: b.instructions,
        emuSeconds: b.seconds,
        mipsPerHart: Number(b.instructions) / b.seconds / 1e6 / n,
        speedup: oneHart === undefined ? NaN : oneHart / b.seconds,
        qemuSeconds: q,
        qemuOverEmu: q / b.seconds,
        qemuNetOverEmu: Math.max(0, q - qemuSmallBest.get(n)!) / b.seconds,
      });
    }
  }
  return { loadAverage, repeats, rows };
}

export function formatEmuBench(report: EmuBenchReport): string {
  const load = report.loadAverage.map((l) => l.toFixed(2)).join(' ');
  const header = 'workload      harts  instructions   emu s   MIPS/hart  speedup   qemu s   qemu/emu   net';
  const lines = report.rows.map(
    (r) =>
      `${r.workload.padEnd(13)} ${String(r.harts).padStart(5)} ${r.instructions.toString().padStart(13)} ` +
      `${r.emuSeconds.toFixed(3).padStart(7)} ${r.mipsPerHart.toFixed(0).padStart(11)} ` +
      `${r.speedup.toFixed(2).padStart(8)} ${r.qemuSeconds.toFixed(3).padStart(8)} ${r.qemuOverEmu.toFixed(2).padStart(10)} ${r.qemuNetOverEmu.toFixed(2).padStart(5)}`,
  );
  return [
    `load average at start: ${load}; emu best of ${report.repeats}, qemu best of ${Math.min(report.repeats, 2)}`,
    'times end to end (emu: whole emuRun; qemu: whole process); speedup = 1-hart time / this time;',
    'net: QEMU less its time for the small build of the same workload (mostly its start-up), over emu',
    header,
    ...lines,
  ].join('\n');
}
