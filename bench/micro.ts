/**
 * `npm run bench -- micro [--quick] [--json FILE]`: rrkit's hot paths, one operation at a
 * time, with tinybench — log append per record, the CREW permission check's fast path, the
 * state hash per MiB (emu's and kvm's), one ownership transfer round trip between two
 * threads, and one kvm exit, plain and recording.
 *
 * Each tinybench sample is one batch of N operations timed where the operation lives: the
 * C++ ones by the addon's bench* exports (native/bench/), which time the batch themselves;
 * the kvm exit by the VMM's own clock, read by a tiny guest (bench/guests/exit-loop.c)
 * before and after N exits. The sample is the batch's time ÷ N (tinybench's
 * overriddenDuration), so the JavaScript call around a batch is not in it. Reported: ns per
 * operation, tinybench's mean, p75 and p99 over the samples, and the sample count.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Bench, type FnReturnedObject } from 'tinybench';
import { buildGuest } from '../src/guests/build.js';
import { native, type NativeBatchTiming } from '../src/native.js';
import type { RunResult } from '../src/engines/engine.js';
import { record } from '../src/session/record.js';
import { runGuest } from '../src/session/run.js';
import { kvmBenchContext } from './kvm.js';

/** A measured row: ns per operation over the samples (each sample one batch's mean). */
export interface MicroMeasured {
  name: string;
  /** what one operation is */
  per: string;
  /** operations per sample */
  batch: number;
  meanNs: number;
  p75Ns: number;
  p99Ns: number;
  samples: number;
}

/** A row this machine cannot measure, and why (kvm rows without a usable /dev/kvm). */
export interface MicroUnmeasured {
  name: string;
  per: string;
  notMeasured: string;
}

export type MicroRow = MicroMeasured | MicroUnmeasured;

export interface MicroOptions {
  /** tiny batches, two samples each, no warm-up: checks that every row works (tests), measures nothing */
  quick?: boolean;
  /** measure the kvm rows (default true; without a usable /dev/kvm they say why instead) */
  kvm?: boolean;
}

/** One micro benchmark: a batch of `batch` operations (`quickBatch` with --quick), timed. */
interface MicroCase {
  name: string;
  per: string;
  batch: number;
  quickBatch: number;
  /** minimum samples (tinybench's iterations) outside --quick */
  samples: number;
  /** set-up before the samples (untimed), given the batch size: returns the timed batch */
  prepare: (batch: number) => Promise<(batch: number) => Promise<NativeBatchTiming> | NativeBatchTiming>;
  cleanup?: () => void;
}

const nativeCase = (
  name: string,
  per: string,
  batch: number,
  quickBatch: number,
  samples: number,
  run: (batch: number) => NativeBatchTiming,
): MicroCase => ({ name, per, batch, quickBatch, samples, prepare: async () => run });

/** The C++ hot paths. Batches take a few ms each (the round trip's tens), so samples are many and cheap. */
function nativeCases(): MicroCase[] {
  const addon = native();
  return [
    nativeCase('log append (clock input record)', 'record', 20_000, 100, 64, (n) => addon.benchLogAppend(n)),
    nativeCase('CREW permission check (fast path)', 'check', 1_000_000, 1_000, 64, (n) => addon.benchPermissionCheck(n)),
    nativeCase('state hash, emu RAM', 'MiB', 16, 1, 32, (n) => addon.benchEmuStateHash(n)),
    nativeCase('state hash, kvm RAM', 'MiB', 16, 1, 32, (n) => addon.benchKvmStateHash(n)),
    nativeCase('ownership transfer round trip (2 threads)', 'round trip', 2_000, 20, 20, (n) => addon.benchOwnershipRoundTrip(n)),
  ];
}

const EXIT_LOOP_SOURCE = fileURLToPath(new URL('./guests/exit-loop.c', import.meta.url));
const KVM_EXIT_CASES = [
  { name: 'kvm exit (plain run)', recording: false },
  { name: 'kvm exit (recording)', recording: true },
] as const;

/** What exit-loop prints: the exits between its two clock reads and the VMM's ns across them. */
function exitLoopTiming(result: RunResult, batch: number): NativeBatchTiming {
  const output = result.console.toString();
  const match = /^exit-loop: ok exits=(\d+) ns=(\d+) harts=1$/m.exec(output);
  if (result.exitCode !== 0 || match === null) throw new Error(`exit-loop: exit ${result.exitCode}, output ${JSON.stringify(output)}`);
  const exits = Number(match[1]);
  // The guest's exits are its own count; the VMM's landmarks must cover them.
  if (exits !== batch + 1 || result.vcpus[0]!.landmark < BigInt(exits)) {
    throw new Error(`exit-loop: ${exits} exits reported for a batch of ${batch}, ${result.vcpus[0]!.landmark} landmarks`);
  }
  return { ns: Number(match[2]), operations: exits };
}

/** One kvm exit: exit-loop built for the batch, run (or recorded) whole once per sample. */
function kvmExitCases(): MicroCase[] {
  const dir = mkdtempSync(join(tmpdir(), 'rrkit-bench-micro-'));
  return KVM_EXIT_CASES.map(({ name, recording }, i) => ({
    name,
    per: 'exit',
    batch: 4_000,
    quickBatch: 20,
    samples: 10,
    prepare: async (batch: number) => {
      const source = join(dir, `exit-loop-${batch}.c`);
      const elf = join(dir, `exit-loop-${batch}-${i}.elf`);
      writeFileSync(source, `#define EXITS ${batch}ul\n#include "${EXIT_LOOP_SOURCE}"\n`);
      await buildGuest({ sources: [source], arch: 'x86_64', output: elf });
      const logPath = join(dir, 'exit-loop.rrlog');
      return async (n: number) =>
        exitLoopTiming(
          recording
            ? await record({ elf, engine: 'kvm', logPath, force: true, capture: true, timeoutSeconds: 120 })
            : await runGuest({ elf, engine: 'kvm', capture: true, timeoutSeconds: 120 }),
          n,
        );
    },
    cleanup: i === KVM_EXIT_CASES.length - 1 ? () => rmSync(dir, { recursive: true, force: true }) : undefined,
  }));
}

async function measure(c: MicroCase, quick: boolean): Promise<MicroMeasured> {
  const batch = quick ? c.quickBatch : c.batch;
  const timed = await c.prepare(batch);
  const bench = new Bench(
    quick
      ? { name: c.name, iterations: 2, time: 0, warmup: false, throws: true }
      : { name: c.name, iterations: c.samples, time: 1000, warmup: true, warmupIterations: 2, warmupTime: 0, throws: true },
  );
  bench.add(c.name, async (): Promise<FnReturnedObject> => {
    const started = performance.now();
    const timing = await timed(batch);
    if (!(timing.operations > 0)) throw new Error(`${c.name}: a batch of ${batch} did no operation`);
    // tinybench's unit is the millisecond: the sample is one operation's mean over the batch.
    return { overriddenDuration: timing.ns / timing.operations / 1e6, overriddenIterationCost: performance.now() - started };
  });
  await bench.run();
  const result = bench.tasks[0]!.result;
  if (result.state !== 'completed') {
    throw new Error(`${c.name}: ${result.state === 'errored' ? result.error.message : result.state}`);
  }
  const { latency } = result;
  return {
    name: c.name,
    per: c.per,
    batch,
    meanNs: latency.mean * 1e6,
    p75Ns: latency.p75 * 1e6,
    p99Ns: latency.p99 * 1e6,
    samples: latency.samplesCount,
  };
}

/** Every micro benchmark, one after another; kvm rows say why when /dev/kvm cannot be used. */
export async function benchMicro(options: MicroOptions = {}): Promise<MicroRow[]> {
  const quick = options.quick ?? false;
  const rows: MicroRow[] = [];
  const cases = nativeCases();
  if (options.kvm ?? true) {
    const context = kvmBenchContext();
    if (context.usable) cases.push(...kvmExitCases());
    else rows.push(...KVM_EXIT_CASES.map(({ name }) => ({ name, per: 'exit', notMeasured: context.reason })));
  }
  try {
    for (const c of cases) rows.push(await measure(c, quick));
  } finally {
    for (const c of cases) c.cleanup?.();
  }
  const order = (name: string) => [...cases.map((c) => c.name), ...KVM_EXIT_CASES.map((k) => k.name)].indexOf(name);
  return rows.sort((a, b) => order(a.name) - order(b.name));
}

const ns = (value: number): string => (value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2));

export function formatMicro(rows: readonly MicroRow[]): string {
  const header = `${'micro benchmark'.padEnd(44)} ${'per'.padEnd(11)} ${'batch'.padStart(9)} ${'mean ns'.padStart(11)} ${'p75 ns'.padStart(11)} ${'p99 ns'.padStart(11)} ${'samples'.padStart(8)}`;
  const lines = rows.map((r) =>
    'notMeasured' in r
      ? `${r.name.padEnd(44)} ${r.per.padEnd(11)} not measured: ${r.notMeasured}`
      : [
          r.name.padEnd(44),
          r.per.padEnd(11),
          String(r.batch).padStart(9),
          ns(r.meanNs).padStart(11),
          ns(r.p75Ns).padStart(11),
          ns(r.p99Ns).padStart(11),
          String(r.samples).padStart(8),
        ].join(' '),
  );
  return [header, ...lines].join('\n');
}

/** The rows and where they were measured, for --json FILE. */
export function microJson(rows: readonly MicroRow[], options: MicroOptions, command: string): object {
  return {
    benchmark: 'micro',
    quick: options.quick ?? false,
    date: new Date().toISOString(),
    command,
    machine: { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, kvm: kvmBenchContext().backend },
    versions: { node: process.version },
    units: 'ns per operation: tinybench mean, p75 and p99 over samples, each sample one batch of `batch` operations timed in C++ (kvm: by the VMM clock)',
    rows,
  };
}

/** The micro section of `npm run bench`. */
export async function microBenchSection(options: MicroOptions & { json?: string; command: string }): Promise<string> {
  const rows = await benchMicro(options);
  if (options.json !== undefined) writeFileSync(options.json, `${JSON.stringify(microJson(rows, options, options.command), null, 2)}\n`);
  const kvm = kvmBenchContext();
  const caveat = options.quick ? 'QUICK: tiny batches, two samples — checks the rows work, measures nothing' : 'this machine is shared: compare rows measured in one run, not with another run';
  return [
    `micro benchmarks with tinybench, ns per operation (each sample: one batch timed in C++, or by the VMM's clock for kvm exits; ${cpus().length} host cores; kvm: ${kvm.usable ? kvm.backend : 'none'}) — ${caveat}:`,
    formatMicro(rows),
  ].join('\n');
}
