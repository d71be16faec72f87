/**
 * SMP record/replay with CREW on the emu engine, side by side in one run: for each
 * workload and vCPU count, rounds of plain run, CREW record and replay (best round of
 * each). Reports record/plain (target ≤ 1.5 on low-sharing workloads), replay/record
 * (target ≤ 2), ownership transfers and log bytes per million instructions. One vCPU is
 * the uniprocessor baseline (no CREW).
 */
import { statSync } from 'node:fs';
import { scanLogFile } from '../src/analysis/log-reader.js';
import { sweep, timedRound } from './timed-round.js';

export interface CrewBenchRow {
  workload: string;
  vcpus: number;
  instructions: bigint;
  plainSeconds: number;
  recordSeconds: number;
  replaySeconds: number;
  transfers: number;
  logBytes: number;
}

/** `name` or `name.small`: the low-sharing four the targets name, the sharing-heavy ones, then the rest. */
export const CREW_BENCH_WORKLOADS = [
  'matmul',
  'fft',
  'radix-sort',
  'sha256',
  'lock-counter',
  'false-sharing',
  'producer-consumer',
  'atomic-histogram',
  'barrier-stencil',
  'racy-counter',
  'timer-ticks',
  'entropy-mix',
  'console-echo',
];
/** 1 is the uniprocessor baseline; the targets are stated for 2 and 4. */
export const CREW_BENCH_VCPUS = [1, 2, 4, 8];

/** CREW parameters for the recordings (defaults: src/smp/crew-options.ts). */
export interface CrewBenchSettings {
  crewGranularity?: number;
  crewHold?: number;
}

export async function benchCrew(
  workloads: readonly string[] = CREW_BENCH_WORKLOADS,
  vcpuCounts: readonly number[] = CREW_BENCH_VCPUS,
  repeats = 2,
  settings: CrewBenchSettings = {},
): Promise<CrewBenchRow[]> {
  return sweep('crew', 'rv64', workloads, vcpuCounts, async ({ guest, vcpus, logPath }) => {
    let best: CrewBenchRow | undefined;
    for (let round = 0; round < repeats; round++) {
      const { plainSeconds, recordSeconds, replaySeconds, recorded, replayed } = await timedRound(guest, {
        vcpus,
        logPath,
        timeoutSeconds: 120,
        replayTimeoutSeconds: 240,
        ...settings,
      });
      if (replayed.kind !== 'exited') throw new Error(`${guest.name} on ${vcpus} vCPUs: replay ${replayed.kind}`);
      let transfers = 0;
      scanLogFile(logPath, (r) => {
        if (r.type === 'crew-transfer') transfers++;
      });
      best = {
        workload: guest.name,
        vcpus,
        instructions: recorded.vcpus.reduce((sum, v) => sum + v.landmark, 0n),
        plainSeconds: Math.min(plainSeconds, best?.plainSeconds ?? Infinity),
        recordSeconds: Math.min(recordSeconds, best?.recordSeconds ?? Infinity),
        replaySeconds: Math.min(replaySeconds, best?.replaySeconds ?? Infinity),
        transfers,
        logBytes: statSync(logPath).size,
      };
    }
    process.stderr.write(`  ${guest.name} on ${vcpus} vCPU(s) done\n`);
    return best!;
  });
}

/** The ratios and densities every CREW figure reports. */
function crewBenchFigures(r: CrewBenchRow) {
  const perMillion = (n: number): number => (n * 1e6) / Number(r.instructions);
  return {
    recordOverPlain: r.recordSeconds / r.plainSeconds,
    replayOverRecord: r.replaySeconds / r.recordSeconds,
    transfersPerMillion: perMillion(r.transfers),
    logBytesPerMillion: perMillion(r.logBytes),
  };
}

/** A row as the cells of a results table (CSV/JSON). */
export function crewBenchCells(r: CrewBenchRow) {
  const f = crewBenchFigures(r);
  return {
    workload: r.workload,
    vcpus: r.vcpus,
    instructions: r.instructions,
    plain_s: r.plainSeconds.toFixed(4),
    record_over_plain: f.recordOverPlain.toFixed(3),
    replay_over_record: f.replayOverRecord.toFixed(3),
    transfers_per_million_instructions: f.transfersPerMillion.toFixed(2),
    log_bytes_per_million_instructions: f.logBytesPerMillion.toFixed(1),
  };
}

export function formatCrewBench(rows: readonly CrewBenchRow[]): string {
  const header = 'workload                vCPUs   instructions  record/plain  replay/record  transfers/M instr  log B/M instr';
  const lines = rows.map((r) => {
    const f = crewBenchFigures(r);
    return [
      r.workload.padEnd(24),
      String(r.vcpus).padStart(5),
      r.instructions.toString().padStart(14),
      f.recordOverPlain.toFixed(2).padStart(13),
      f.replayOverRecord.toFixed(2).padStart(14),
      f.transfersPerMillion.toFixed(1).padStart(18),
      f.logBytesPerMillion.toFixed(1).padStart(14),
    ].join(' ');
  });
  return [header, ...lines, 'targets: record/plain ≤ 1.5 on low-sharing workloads (matmul, fft, radix-sort, sha256); replay/record ≤ 2'].join('\n');
}
