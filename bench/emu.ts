/**
 * emu speed: MIPS per hart on the compute workloads (full size), on 1 and 2 harts, and
 * the same ELF under qemu-system-riscv64 (TCG) in the same run; the ratio is QEMU's wall
 * time over emu's for the same work.
 */
import { spawnSync } from 'node:child_process';
import { runEmu } from '../src/engines/emu.js';
import { WORKLOADS, builtGuestPath } from '../src/guests/catalog.js';

export interface EmuBenchRow {
  workload: string;
  harts: number;
  instructions: bigint;
  emuSeconds: number;
  mipsPerHart: number;
  qemuSeconds: number;
  qemuOverEmu: number;
}

function qemuSeconds(elf: string, harts: number): number {
  const started = process.hrtime.bigint();
  const r = spawnSync(
    'qemu-system-riscv64',
    ['-machine', 'virt', '-bios', 'none', '-nographic', '-smp', String(harts), '-kernel', elf],
    { stdio: ['ignore', 'ignore', 'inherit'], timeout: 300_000 },
  );
  if (r.error) throw r.error;
  return Number(process.hrtime.bigint() - started) / 1e9;
}

/** Best of `repeats` emu runs (the machine is shared; the minimum is the least disturbed). */
export async function benchEmu(harts: readonly number[] = [1, 2], repeats = 3): Promise<EmuBenchRow[]> {
  const rows: EmuBenchRow[] = [];
  for (const workload of WORKLOADS.filter((w) => w.class === 'compute')) {
    const elf = builtGuestPath(workload.name, 'rv64');
    for (const n of harts) {
      let best: Awaited<ReturnType<typeof runEmu>> | undefined;
      for (let i = 0; i < repeats; i++) {
        const r = await runEmu({ elf, harts: n, capture: true });
        if (best === undefined || r.wallSeconds < best.wallSeconds) best = r;
      }
      const b = best!;
      const instructions = b.harts.reduce((sum, h) => sum + h.instret, 0n);
      const q = qemuSeconds(elf, n);
      rows.push({
        workload: workload.name,
        harts: n,
        instructions,
        emuSeconds: b.wallSeconds,
        mipsPerHart: Number(instructions) / b.wallSeconds / 1e6 / n,
        qemuSeconds: q,
        qemuOverEmu: q / b.wallSeconds,
      });
    }
  }
  return rows;
}

export function formatEmuBench(rows: readonly EmuBenchRow[]): string {
  const header = 'workload      harts  instructions   emu s   MIPS/hart   qemu s   qemu/emu';
  const lines = rows.map(
    (r) =>
      `${r.workload.padEnd(13)} ${String(r.harts).padStart(5)} ${r.instructions.toString().padStart(13)} ` +
      `${r.emuSeconds.toFixed(3).padStart(7)} ${r.mipsPerHart.toFixed(0).padStart(11)} ` +
      `${r.qemuSeconds.toFixed(3).padStart(8)} ${r.qemuOverEmu.toFixed(2).padStart(10)}`,
  );
  return [header, ...lines].join('\n');
}
