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
import { runEmu } from '../src/engines/emu.js';
import { WORKLOADS, builtGuestPath } from '../src/guests/catalog.js';

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
}

export interface EmuBenchReport {
  loadAverage: readonly number[];
  repeats: number;
  rows: EmuBenchRow[];
}

function seconds(since: bigint): number {
  return Number(process.hrtime.bigint() - since) / 1e9;
}

function bestOf(repeats: number, run: () => number): number {
  let best = Infinity;
  for (let i = 0; i < repeats; i++) best = Math.min(best, run());
  return best;
}

function qemuSeconds(elf: string, harts: number): number {
  const started = process.hrtime.bigint();
  const r = spawnSync(
    'qemu-system-riscv64',
    ['-machine', 'virt', '-bios', 'none', '-nographic', '-smp', String(harts), '-kernel', elf],
    { stdio: ['ignore', 'ignore', 'inherit'], timeout: 300_000 },
  );
  if (r.error) throw r.error;
  return seconds(started);
}

export async function benchEmu(harts: readonly number[] = [1, 2], repeats = 3): Promise<EmuBenchReport> {
  const loadAverage = loadavg();
  const rows: EmuBenchRow[] = [];
  for (const workload of WORKLOADS.filter((w) => w.class === 'compute')) {
    const elf = builtGuestPath(workload.name, 'rv64');
    let oneHartSeconds: number | undefined;
    for (const n of harts) {
      let best: { seconds: number; instructions: bigint } | undefined;
      for (let i = 0; i < repeats; i++) {
        const started = process.hrtime.bigint();
        const r = await runEmu({ elf, harts: n, capture: true });
        const s = seconds(started);
        if (r.outcome !== 'exited' || r.exitCode !== 0) throw new Error(`${workload.name} on ${n} harts: ${r.outcome} ${r.error}`);
        if (best === undefined || s < best.seconds)
          best = { seconds: s, instructions: r.harts.reduce((sum, h) => sum + h.instret, 0n) };
      }
      const b = best!;
      if (n === 1) oneHartSeconds = b.seconds;
      const q = bestOf(Math.min(repeats, 2), () => qemuSeconds(elf, n));
      rows.push({
        workload: workload.name,
        harts: n,
        instructions: b.instructions,
        emuSeconds: b.seconds,
        mipsPerHart: Number(b.instructions) / b.seconds / 1e6 / n,
        speedup: oneHartSeconds === undefined ? NaN : oneHartSeconds / b.seconds,
        qemuSeconds: q,
        qemuOverEmu: q / b.seconds,
      });
    }
  }
  return { loadAverage, repeats, rows };
}

export function formatEmuBench(report: EmuBenchReport): string {
  const load = report.loadAverage.map((l) => l.toFixed(2)).join(' ');
  const header = 'workload      harts  instructions   emu s   MIPS/hart  speedup   qemu s   qemu/emu';
  const lines = report.rows.map(
    (r) =>
      `${r.workload.padEnd(13)} ${String(r.harts).padStart(5)} ${r.instructions.toString().padStart(13)} ` +
      `${r.emuSeconds.toFixed(3).padStart(7)} ${r.mipsPerHart.toFixed(0).padStart(11)} ` +
      `${r.speedup.toFixed(2).padStart(8)} ${r.qemuSeconds.toFixed(3).padStart(8)} ${r.qemuOverEmu.toFixed(2).padStart(10)}`,
  );
  return [
    `load average at start: ${load}; emu best of ${report.repeats}, qemu best of ${Math.min(report.repeats, 2)}`,
    'times end to end (emu: whole emuRun; qemu: whole process); speedup = 1-hart time / this time',
    header,
    ...lines,
  ].join('\n');
}
