/**
 * SMP recording on guests not written for it, and vCPUs M:N (issues 15 and 19), on the emu
 * engine, side by side in one run (best of `repeats` rounds of each):
 *
 * - sharing: every workload class on 2, 4 and 8 vCPUs — plain run, record with serialized
 *   mode (the defaults), record without it (CREW only), replay of the first recording.
 *   Targets: record ÷ plain ≤ 3 everywhere, ≤ 1.5 on the low-sharing workloads, ≤ 2 on
 *   producer-consumer; log ≤ 100 B per million instructions on the sharing-heavy ones;
 *   replay ÷ record ≤ 2.
 * - wide: matmul, fft, sha256 and radix-sort on 1, 16, 32 and 64 vCPUs — plain time against
 *   the 1-vCPU plain time per instruction (total run time should grow no faster than the
 *   total work), record ÷ plain (target ≤ 1.5), transfers per million instructions.
 * - threads: plain runs and recordings at 2–8 vCPUs on one thread per vCPU (1:1) against the
 *   default pool (M:N, the host's cores). Target: M:N plain no slower than 1:1; radix-sort
 *   record ÷ plain ≤ 1.3 at 4 and 8 vCPUs, each round within ±0.1 of the median — beside a
 *   second plain run ÷ the first, whose spread is the host's own noise on identical work.
 *
 * RRKIT_BENCH_SIZE=small uses the small builds (seconds instead of minutes; fixed costs
 * weigh more in the ratios). `npm run bench -- smp-sharing` runs the sharing table alone;
 * RRKIT_BENCH_WORKLOADS=a,b and RRKIT_BENCH_VCPUS=2,4 narrow it (a quick look at a few rows).
 */
import { copyFileSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { scanLogFile } from '../src/analysis/log-reader.js';
import type { RunResult } from '../src/engines/engine.js';
import { record } from '../src/session/record.js';
import { replay } from '../src/session/replay.js';
import { runGuest } from '../src/session/run.js';
import { SERIAL_OFF } from '../src/smp/serial-options.js';
import { benchGuest, type BenchGuest } from './timed-round.js';
import { median, secondsSince } from './timing.js';

const SMALL = process.env.RRKIT_BENCH_SIZE === 'small';
const TIMEOUT_SECONDS = 600;

export const SHARING_WORKLOADS = [
  'matmul',
  'fft',
  'radix-sort',
  'sha256',
  'lock-counter',
  'false-sharing',
  'producer-consumer',
  'atomic-histogram',
  'barrier-stencil',
  'locked-ring',
  'flag-handshake',
  'work-queue',
];
const LOW_SHARING = new Set(['matmul', 'fft', 'radix-sort', 'sha256']);
export const SHARING_VCPUS = [2, 4, 8];

/**
 * A table's rows: the given workloads and vCPU counts (the sharing table's by default), or
 * those RRKIT_BENCH_WORKLOADS and RRKIT_BENCH_VCPUS name.
 */
export function sharingSelection(
  env: NodeJS.ProcessEnv = process.env,
  defaults: { workloads: readonly string[]; vcpus: readonly number[] } = { workloads: SHARING_WORKLOADS, vcpus: SHARING_VCPUS },
): { workloads: string[]; vcpus: number[] } {
  const list = (value: string | undefined): string[] | undefined =>
    value === undefined || value.trim() === '' ? undefined : value.split(',').map((item) => item.trim());
  const workloads = list(env.RRKIT_BENCH_WORKLOADS) ?? [...defaults.workloads];
  for (const w of workloads) {
    if (!SHARING_WORKLOADS.includes(w)) throw new Error(`RRKIT_BENCH_WORKLOADS: ${w} is not one of ${SHARING_WORKLOADS.join(', ')}`);
  }
  const vcpus = (list(env.RRKIT_BENCH_VCPUS) ?? defaults.vcpus.map(String)).map((v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 2 || n > 64) throw new Error(`RRKIT_BENCH_VCPUS: ${v} is not a vCPU count from 2 to 64`);
    return n;
  });
  return { workloads, vcpus };
}
export const WIDE_WORKLOADS = ['matmul', 'fft', 'sha256', 'radix-sort'];
export const WIDE_VCPUS = [1, 16, 32, 64];
export const THREADS_WORKLOADS = ['radix-sort', 'matmul', 'lock-counter', 'producer-consumer'];
export const THREADS_VCPUS = [2, 4, 8];

/** The workload's rv64 build, full or small (RRKIT_BENCH_SIZE), with the console input it needs. */
function setup(workload: string): BenchGuest {
  return benchGuest(SMALL ? `${workload}.small` : workload, 'rv64');
}

function instructionsOf(r: RunResult): bigint {
  return r.vcpus.reduce((sum, v) => sum + v.landmark, 0n);
}

async function timed<T>(f: () => Promise<T>): Promise<[T, number]> {
  const t = process.hrtime.bigint();
  const value = await f();
  return [value, secondsSince(t)];
}

function logFacts(logPath: string): { transfers: number; turnSwitches: number; bytes: number } {
  let transfers = 0;
  let turnSwitches = 0;
  scanLogFile(logPath, (r) => {
    if (r.type === 'crew-transfer') transfers++;
    else if (r.type === 'turn-switch') turnSwitches++;
  });
  return { transfers, turnSwitches, bytes: statSync(logPath).size };
}

const min = (a: number, b: number | undefined): number => Math.min(a, b ?? Infinity);
const perMillion = (n: number, instructions: bigint): number => (n * 1e6) / Number(instructions);

export interface SharingRow {
  workload: string;
  vcpus: number;
  instructions: bigint;
  plain: number;
  record: number;
  recordCrewOnly: number;
  replay: number;
  transfers: number;
  turnSwitches: number;
  logBytes: number;
  logBytesCrewOnly: number;
  /** A round whose replay did not reproduce its recording: what happened, and where its log is kept. */
  failure?: string;
}

/** Keeps a log whose replay failed, outside the bench's temporary directory, for a look afterwards. */
function keepFailedLog(logPath: string, workload: string, vcpus: number): string {
  const kept = join(tmpdir(), `rrkit-bench-failed-${workload}-${vcpus}-${process.pid}.rrlog`);
  copyFileSync(logPath, kept);
  return kept;
}

export async function benchSharing(workloads = SHARING_WORKLOADS, vcpuCounts = SHARING_VCPUS, repeats = 2): Promise<SharingRow[]> {
  const dir = mkdtempSync(join(tmpdir(), 'rrkit-bench-smp-'));
  const rows: SharingRow[] = [];
  try {
    for (const workload of workloads) {
      const { elf, input } = setup(workload);
      for (const vcpus of vcpuCounts) {
        const logPath = join(dir, `${workload}-${vcpus}.rrlog`);
        const crewPath = join(dir, `${workload}-${vcpus}-crew.rrlog`);
        let row: SharingRow | undefined;
        let failure: string | undefined;
        for (let round = 0; round < repeats; round++) {
          const [, plain] = await timed(() => runGuest({ elf, vcpus, input, capture: true, timeoutSeconds: TIMEOUT_SECONDS }));
          const [recorded, recordSeconds] = await timed(() =>
            record({ elf, logPath, vcpus, input, capture: true, force: true, timeoutSeconds: TIMEOUT_SECONDS }),
          );
          const [, recordCrewOnly] = await timed(() =>
            record({ elf, logPath: crewPath, vcpus, input, capture: true, force: true, timeoutSeconds: TIMEOUT_SECONDS, serialize: SERIAL_OFF }),
          );
          const [replayed, replaySeconds] = await timed(() => replay({ logPath, capture: true, timeoutSeconds: TIMEOUT_SECONDS }));
          if (replayed.kind !== 'exited' || replayed.result.stateHash !== recorded.stateHash) {
            // Not a row of figures: said in the table (the other rows still count), log kept.
            const what = replayed.kind === 'diverged' ? `diverged: ${replayed.report.what}` : `${replayed.kind}, not the recorded state`;
            failure = `round ${round + 1}: replay ${what} (log kept: ${keepFailedLog(logPath, workload, vcpus)})`;
            continue;
          }
          const facts = logFacts(logPath);
          row = {
            workload,
            vcpus,
            instructions: instructionsOf(recorded),
            plain: min(plain, row?.plain),
            record: min(recordSeconds, row?.record),
            recordCrewOnly: min(recordCrewOnly, row?.recordCrewOnly),
            replay: min(replaySeconds, row?.replay),
            transfers: facts.transfers,
            turnSwitches: facts.turnSwitches,
            logBytes: facts.bytes,
            logBytesCrewOnly: statSync(crewPath).size,
          };
        }
        const failed = { workload, vcpus, instructions: 0n, plain: NaN, record: NaN, recordCrewOnly: NaN, replay: NaN, transfers: 0, turnSwitches: 0, logBytes: 0, logBytesCrewOnly: 0 };
        rows.push({ ...(row ?? failed), ...(failure === undefined ? {} : { failure }) });
        process.stderr.write(`  sharing: ${workload} on ${vcpus} vCPUs done${failure === undefined ? '' : ` — ${failure}`}\n`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

export function formatSharing(rows: readonly SharingRow[]): string {
  const header =
    'workload            vCPUs  record/plain  (CREW only)  replay/record  transfers/M  turns/M  log B/M  (CREW only)  target';
  const lines = rows.map((r) => {
    const target = LOW_SHARING.has(r.workload) ? '≤1.5' : r.workload === 'producer-consumer' ? '≤2' : '≤3';
    const failed = r.failure === undefined ? '' : `  FAILED ${r.failure}`;
    return [
      r.workload.padEnd(19),
      String(r.vcpus).padStart(5),
      (r.record / r.plain).toFixed(2).padStart(13),
      (r.recordCrewOnly / r.plain).toFixed(2).padStart(12),
      (r.replay / r.record).toFixed(2).padStart(14),
      perMillion(r.transfers, r.instructions).toFixed(1).padStart(12),
      perMillion(r.turnSwitches, r.instructions).toFixed(1).padStart(8),
      perMillion(r.logBytes, r.instructions).toFixed(1).padStart(8),
      perMillion(r.logBytesCrewOnly, r.instructions).toFixed(1).padStart(12),
      target.padStart(7),
    ].join(' ') + failed;
  });
  return [header, ...lines, 'targets (issue 15): record/plain as in the last column; log ≤ 100 B/M instr on sharing-heavy workloads; replay/record ≤ 2'].join('\n');
}

export interface WideRow {
  workload: string;
  vcpus: number;
  instructions: bigint;
  plain: number;
  record: number;
  transfers: number;
}

export async function benchWide(workloads = WIDE_WORKLOADS, vcpuCounts = WIDE_VCPUS, repeats = 2): Promise<WideRow[]> {
  const dir = mkdtempSync(join(tmpdir(), 'rrkit-bench-wide-'));
  const rows: WideRow[] = [];
  try {
    for (const workload of workloads) {
      const { elf, input } = setup(workload);
      for (const vcpus of vcpuCounts) {
        const logPath = join(dir, `${workload}-${vcpus}.rrlog`);
        let row: WideRow | undefined;
        for (let round = 0; round < repeats; round++) {
          const [ran, plain] = await timed(() => runGuest({ elf, vcpus, input, capture: true, timeoutSeconds: TIMEOUT_SECONDS }));
          const [, recordSeconds] = await timed(() => record({ elf, logPath, vcpus, input, capture: true, force: true, timeoutSeconds: TIMEOUT_SECONDS }));
          row = {
            workload,
            vcpus,
            instructions: instructionsOf(ran),
            plain: min(plain, row?.plain),
            record: min(recordSeconds, row?.record),
            transfers: logFacts(logPath).transfers,
          };
        }
        rows.push(row!);
        process.stderr.write(`  wide: ${workload} on ${vcpus} vCPUs done\n`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

export function formatWide(rows: readonly WideRow[]): string {
  const header = 'workload     vCPUs   instructions  plain s  time/work vs 1 vCPU  record/plain  transfers/M';
  const lines = rows.map((r) => {
    const one = rows.find((o) => o.workload === r.workload && o.vcpus === 1);
    const perInstruction = (x: WideRow): number => x.plain / Number(x.instructions);
    return [
      r.workload.padEnd(12),
      String(r.vcpus).padStart(5),
      r.instructions.toString().padStart(14),
      r.plain.toFixed(3).padStart(8),
      (one === undefined ? NaN : perInstruction(r) / perInstruction(one)).toFixed(2).padStart(20),
      (r.record / r.plain).toFixed(2).padStart(13),
      perMillion(r.transfers, r.instructions).toFixed(2).padStart(12),
    ].join(' ');
  });
  return [
    header,
    ...lines,
    'targets (issue 19): time/work no more than the 1-vCPU run\'s times the host\'s cores ÷ min(vCPUs, cores), i.e. no growth beyond the work; record/plain ≤ 1.5 on matmul, fft, sha256 at 16–64',
  ].join('\n');
}

export interface ThreadsRow {
  workload: string;
  vcpus: number;
  plainOneToOne: number;
  plainMN: number;
  recordOneToOne: number;
  recordMN: number;
  /** each round's record M:N ÷ plain M:N, both from that round: the spread issue 19 asks about */
  recordOverPlainMNRounds: number[];
  /** each round's second plain M:N run (after the recordings) ÷ its first: the host's own noise on identical work */
  plainOverPlainMNRounds: number[];
}

export async function benchThreads(workloads = THREADS_WORKLOADS, vcpuCounts = THREADS_VCPUS, repeats = 2): Promise<ThreadsRow[]> {
  const dir = mkdtempSync(join(tmpdir(), 'rrkit-bench-threads-'));
  const rows: ThreadsRow[] = [];
  try {
    for (const workload of workloads) {
      const { elf, input } = setup(workload);
      for (const vcpus of vcpuCounts) {
        const logPath = join(dir, `${workload}-${vcpus}.rrlog`);
        let row: ThreadsRow | undefined;
        for (let round = 0; round < repeats; round++) {
          const run = (threads: number | undefined) => timed(() => runGuest({ elf, vcpus, input, capture: true, threads, timeoutSeconds: TIMEOUT_SECONDS }));
          const rec = (threads: number | undefined) =>
            timed(() => record({ elf, logPath, vcpus, input, capture: true, force: true, threads, timeoutSeconds: TIMEOUT_SECONDS }));
          const [, plainOneToOne] = await run(vcpus);
          const [, plainMN] = await run(undefined);
          const [, recordOneToOne] = await rec(vcpus);
          const [, recordMN] = await rec(undefined);
          const [, plainMNAgain] = await run(undefined);
          row = {
            workload,
            vcpus,
            plainOneToOne: min(plainOneToOne, row?.plainOneToOne),
            plainMN: min(plainMN, row?.plainMN),
            recordOneToOne: min(recordOneToOne, row?.recordOneToOne),
            recordMN: min(recordMN, row?.recordMN),
            recordOverPlainMNRounds: [...(row?.recordOverPlainMNRounds ?? []), recordMN / plainMN],
            plainOverPlainMNRounds: [...(row?.plainOverPlainMNRounds ?? []), plainMNAgain / plainMN],
          };
        }
        rows.push(row!);
        process.stderr.write(`  threads: ${workload} on ${vcpus} vCPUs done\n`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

export function formatThreads(rows: readonly ThreadsRow[]): string {
  const header =
    'workload            vCPUs  plain M:N÷1:1  record/plain 1:1  record/plain M:N  per round, M:N: record/plain     plain/plain';
  const spread = (values: readonly number[]): string =>
    `${median(values).toFixed(2)} (${Math.min(...values).toFixed(2)}–${Math.max(...values).toFixed(2)})`;
  const lines = rows.map((r) =>
    [
      r.workload.padEnd(19),
      String(r.vcpus).padStart(5),
      (r.plainMN / r.plainOneToOne).toFixed(2).padStart(14),
      (r.recordOneToOne / r.plainOneToOne).toFixed(2).padStart(17),
      (r.recordMN / r.plainMN).toFixed(2).padStart(17),
      spread(r.recordOverPlainMNRounds).padStart(29),
      spread(r.plainOverPlainMNRounds).padStart(17),
    ].join(' '),
  );
  return [
    header,
    ...lines,
    'record/plain columns: best record ÷ best plain; per round: median (min–max) over rounds of record ÷ that round\'s plain,',
    'and of a second plain run ÷ the first (identical work: the spread the host alone puts into a ratio)',
    'targets (issue 19): plain M:N÷1:1 ≤ 1 at 8 vCPUs; radix-sort record/plain M:N ≤ 1.3 at 4 and 8, its rounds within ±0.1 of their median',
  ].join('\n');
}

/** The sharing table alone (`npm run bench -- smp-sharing`), narrowed by RRKIT_BENCH_WORKLOADS and RRKIT_BENCH_VCPUS. */
export async function smpSharingSection(): Promise<string> {
  const size = SMALL ? 'small builds' : 'full size';
  const { workloads, vcpus } = sharingSelection();
  return [
    `SMP sharing on emu (${size}, best of 2 rounds; serialized mode at its defaults against CREW only):`,
    formatSharing(await benchSharing(workloads, vcpus)),
  ].join('\n');
}

/** The number of rounds RRKIT_BENCH_ROUNDS asks for, or the fallback. */
export function benchRounds(env: NodeJS.ProcessEnv, fallback: number): number {
  const value = env.RRKIT_BENCH_ROUNDS;
  if (value === undefined || value.trim() === '') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`RRKIT_BENCH_ROUNDS: ${value} is not a whole number of rounds ≥ 1`);
  return n;
}

/**
 * The threads table alone (`npm run bench -- smp-threads`), narrowed by RRKIT_BENCH_WORKLOADS
 * and RRKIT_BENCH_VCPUS, with RRKIT_BENCH_ROUNDS rounds (default 2) for a look at the spread.
 */
export async function smpThreadsSection(): Promise<string> {
  const size = SMALL ? 'small builds' : 'full size';
  const { workloads, vcpus } = sharingSelection(process.env, { workloads: THREADS_WORKLOADS, vcpus: THREADS_VCPUS });
  const rounds = benchRounds(process.env, 2);
  return [
    `one thread per vCPU (1:1) against M:N on the host's cores (${size}, ${rounds} rounds; columns from the best of them):`,
    formatThreads(await benchThreads(workloads, vcpus, rounds)),
  ].join('\n');
}

export async function smpBenchSection(): Promise<string> {
  const size = SMALL ? 'small builds' : 'full size';
  return [
    `SMP sharing on emu (${size}, best of 2 rounds; serialized mode at its defaults against CREW only):`,
    formatSharing(await benchSharing()),
    '',
    `wide machines on emu (${size}, best of 2; M:N on the host's cores):`,
    formatWide(await benchWide()),
    '',
    `one thread per vCPU (1:1) against M:N on the host's cores (${size}, best of 2):`,
    formatThreads(await benchThreads()),
  ].join('\n');
}
