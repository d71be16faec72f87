/**
 * The SMP benches' sweep and round (bench/crew.ts on emu, bench/kvm-smp.ts on kvm): every
 * workload × vCPU count with a log of its own in a temporary folder, and in each, rounds of
 * a plain run, a recording and its replay of the same guest with the same vCPUs, one after
 * another, each timed by wall clock. The benches keep their own bests, medians and checks.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ConsoleInput } from '../src/engines/engine.js';
import { builtGuestPath, findWorkload, type GuestArch } from '../src/guests/catalog.js';
import { record, type RecordResult } from '../src/session/record.js';
import { replay, type ReplayOutcome } from '../src/session/replay.js';
import { runGuest } from '../src/session/run.js';
import { secondsSince } from './timing.js';

/** What workloads that read the console (console-echo) get to read. */
const BENCH_CONSOLE_INPUT = Buffer.from('hello\nrecord and replay\nend\n');

/** A bench workload, `name` or `name.small`, built for one architecture. */
export interface BenchGuest {
  /** as the bench lists it (`name` or `name.small`) */
  name: string;
  /** the workload without the size */
  workload: string;
  elf: string;
  /** the console input it needs, if it reads the console */
  input?: ConsoleInput;
}

export function benchGuest(name: string, arch: GuestArch): BenchGuest {
  const [workload, size] = name.split('.') as [string, string | undefined];
  const input: ConsoleInput | undefined = findWorkload(workload)?.workload.needsConsoleInput
    ? { kind: 'bytes', data: BENCH_CONSOLE_INPUT }
    : undefined;
  return { name, workload, elf: builtGuestPath(workload, arch, size === 'small'), input };
}

/** One cell of a sweep: the guest, its vCPUs, and the log path its rounds record to. */
export interface SweepCell {
  guest: BenchGuest;
  vcpus: number;
  logPath: string;
}

/** `measure` for every workload × vCPU count, in that order; the logs' folder is removed at the end. */
export async function sweep<Row>(
  name: string,
  arch: GuestArch,
  workloads: readonly string[],
  vcpuCounts: readonly number[],
  measure: (cell: SweepCell) => Promise<Row>,
): Promise<Row[]> {
  const dir = mkdtempSync(join(tmpdir(), `rrkit-bench-${name}-`));
  const rows: Row[] = [];
  try {
    for (const workload of workloads) {
      const guest = benchGuest(workload, arch);
      for (const vcpus of vcpuCounts) rows.push(await measure({ guest, vcpus, logPath: join(dir, `${guest.workload}-${vcpus}.rrlog`) }));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

export interface RoundSettings {
  /** default: the engine for the ELF */
  engine?: string;
  vcpus: number;
  logPath: string;
  /** for the plain run and the recording */
  timeoutSeconds: number;
  replayTimeoutSeconds: number;
  /** CREW parameters for the recording (defaults: src/smp/crew-options.ts) */
  crewGranularity?: number;
  crewHold?: number;
}

export interface TimedRound {
  plainSeconds: number;
  recordSeconds: number;
  replaySeconds: number;
  recorded: RecordResult;
  replayed: ReplayOutcome;
}

export async function timedRound(guest: BenchGuest, settings: RoundSettings): Promise<TimedRound> {
  const { engine, vcpus, logPath, timeoutSeconds, replayTimeoutSeconds, ...crew } = settings;
  const { elf, input } = guest;
  let t = process.hrtime.bigint();
  await runGuest({ elf, engine, vcpus, input, capture: true, timeoutSeconds });
  const plainSeconds = secondsSince(t);
  t = process.hrtime.bigint();
  // force: each round replaces the previous round's log (the bench's own file).
  const recorded = await record({ elf, engine, logPath, force: true, vcpus, input, capture: true, timeoutSeconds, ...crew });
  const recordSeconds = secondsSince(t);
  t = process.hrtime.bigint();
  const replayed = await replay({ logPath, capture: true, timeoutSeconds: replayTimeoutSeconds });
  return { plainSeconds, recordSeconds, replaySeconds: secondsSince(t), recorded, replayed };
}
