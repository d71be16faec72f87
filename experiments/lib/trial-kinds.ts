/**
 * The trials themselves, run inside a trial process (trial-main.ts), one at a time: each
 * variant is timed from before the session call to its end (image load, the run, the final
 * state hash), the same way for every variant, so that ratios compare like with like.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { ConsoleInput, RunResult } from '../../src/engines/engine.js';
import { GuestFailure, totalLandmarks } from '../../src/engines/engine.js';
import { builtGuestPath, findWorkload, type GuestArch } from '../../src/guests/catalog.js';
import { writeDiskImage } from '../../src/guests/disk-image.js';
import { repoRoot } from '../../src/native.js';
import { record } from '../../src/session/record.js';
import { replay } from '../../src/session/replay.js';
import { runGuest } from '../../src/session/run.js';
import type { QemuTrial, RrkitTrial, ScriptTrial, TrialValues } from './trial-spec.js';

/** What workloads that read the console (console-echo) read, the same for every variant. */
const CONSOLE_INPUT = Buffer.from('hello\nrecord and replay\nend\n');
/** No single run of the figures' workloads takes this long; past it a run is stuck. */
const RUN_TIMEOUT_SECONDS = 300;
/**
 * A recording that takes longer than `overPlain` plain runs of the same trial (and at least
 * `floorSeconds`) is stopped there: its cell reports a lower bound, says so, and
 * has no replay. A guest whose vCPUs trade pages pathologically would otherwise hold the
 * sweep for minutes per repeat to tell what this already tells: far past any target.
 */
export const RECORD_BUDGET = { overPlain: 10, floorSeconds: 5 } as const;

function secondsSince(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e9;
}

function checkExited(what: string, result: RunResult): void {
  if (result.outcome !== 'exited' || result.exitCode !== 0) {
    throw new Error(`${what}: ${result.outcome}${result.outcome === 'exited' ? ` with code ${result.exitCode}` : ''} ${result.error ?? ''}`.trim());
  }
}

export async function runRrkitTrial(spec: RrkitTrial, workDir: string): Promise<TrialValues> {
  const arch: GuestArch = spec.engine === 'kvm' ? 'x86_64' : 'rv64';
  const elf = spec.elf === undefined ? builtGuestPath(spec.workload, arch, spec.small) : resolve(repoRoot, spec.elf);
  const input: ConsoleInput | undefined = findWorkload(spec.workload)?.workload.needsConsoleInput
    ? { kind: 'bytes', data: CONSOLE_INPUT }
    : undefined;
  const common = { elf, engine: spec.engine, vcpus: spec.vcpus, input, capture: true, timeoutSeconds: RUN_TIMEOUT_SECONDS };
  const disk = spec.diskSectors === undefined ? undefined : join(workDir, 'disk.img');
  if (disk !== undefined) await writeDiskImage(disk, spec.diskSectors!);
  const runDisk = disk === undefined ? {} : { disk: { path: disk, sectors: 0, shared: false } };
  const logPath = join(workDir, 'run.rrlog');
  // Untimed: the first run in a process pays once for loading the addon and compiling
  // rrkit's JavaScript; a run of the small build pays it so that the first timed variant does not.
  const warmUp = spec.elf === undefined ? builtGuestPath(spec.workload, arch, true) : elf;
  if (existsSync(warmUp)) await runGuest({ ...common, ...runDisk, elf: warmUp }).catch(() => undefined);
  const values: TrialValues = {};
  let recorded: RunResult | undefined;
  for (const variant of spec.variants) {
    const started = process.hrtime.bigint();
    if (variant === 'plain') {
      const result = await runGuest({ ...common, ...runDisk });
      values.plainSeconds = secondsSince(started);
      checkExited('plain run', result);
      values.landmarks = Number(totalLandmarks(result));
    } else if (variant === 'record') {
      const { overPlain, floorSeconds } = spec.recordBudget ?? RECORD_BUDGET;
      const budget =
        values.plainSeconds === undefined
          ? RUN_TIMEOUT_SECONDS
          : Math.min(RUN_TIMEOUT_SECONDS, Math.max(floorSeconds, overPlain * Number(values.plainSeconds)));
      // A timeout is a GuestFailure carrying its result and where the incomplete log was kept;
      // past the budget that is this cell's answer.
      let incompleteLog: string | undefined;
      recorded = await record({ ...common, timeoutSeconds: budget, logPath, crewGranularity: spec.crewGranularity, disk }).catch((error: unknown) => {
        if (!(error instanceof GuestFailure && error.result.outcome === 'timeout' && values.plainSeconds !== undefined)) throw error;
        incompleteLog = error.incompleteLog;
        return error.result;
      });
      values.recordSeconds = secondsSince(started);
      if (recorded.outcome === 'timeout') {
        values.recordStopped = `stopped after ${budget.toFixed(2)} s (${overPlain}× the plain run, at least ${floorSeconds} s)`;
        values.landmarks = Number(totalLandmarks(recorded));
        if (incompleteLog !== undefined) {
          values.logBytes = statSync(incompleteLog).size;
          values.logPath = incompleteLog;
        }
        break; // nothing to replay: the recording did not finish
      }
      checkExited('recording', recorded);
      values.landmarks = Number(totalLandmarks(recorded));
      values.logBytes = statSync(logPath).size;
      values.logPath = logPath;
    } else {
      if (recorded === undefined) throw new Error('a replay needs a recording before it in the same trial');
      const replayed = await replay({ logPath, capture: true, timeoutSeconds: RUN_TIMEOUT_SECONDS * 2 });
      values.replaySeconds = secondsSince(started);
      // Reproduced: the replay checked every checkpoint and the final state (else 'diverged'),
      // and its console output and exit code are the recording's.
      values.reproduced =
        replayed.kind === 'exited' && replayed.exitCode === recorded.exitCode && replayed.result.console.equals(recorded.console);
      if (replayed.kind === 'diverged') values.divergence = `${replayed.report.what} on vCPU ${replayed.report.vcpu} at ${replayed.report.count}`;
    }
  }
  return values;
}

/** One QEMU process; its seconds (start-up included, as a user would see it), exit status, output and complaint. */
function runQemu(elf: string, harts: number, extra: readonly string[]): { seconds: number; status: number | null; stdout: Buffer; stderr: string } {
  const started = process.hrtime.bigint();
  const r = spawnSync('qemu-system-riscv64', ['-machine', 'virt', '-bios', 'none', '-nographic', '-smp', String(harts), '-kernel', elf, ...extra], {
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: RUN_TIMEOUT_SECONDS * 1000,
  });
  const seconds = secondsSince(started);
  if (r.error !== undefined) throw new Error(`qemu-system-riscv64: ${r.error.message}`);
  return { seconds, status: r.status, stdout: r.stdout, stderr: r.stderr.toString('utf8').trim() };
}

/** QEMU refuses record/replay with several harts ("not supported for 'smp'"): a fact to report, not a failure. */
const QEMU_REFUSAL = /not supported/i;

export function runQemuTrial(spec: QemuTrial, workDir: string): TrialValues {
  const elf = builtGuestPath(spec.workload, 'rv64', spec.small);
  const rrfile = join(workDir, 'qemu.rr');
  const values: TrialValues = {};
  let recordedOutput: Buffer | undefined;
  for (const variant of spec.variants) {
    const extra = variant === 'plain' ? [] : ['-icount', `shift=auto,rr=${variant},rrfile=${rrfile}`];
    if (variant === 'replay' && recordedOutput === undefined) {
      if (typeof values.recordRefused === 'string') {
        values.replayRefused = values.recordRefused;
        continue;
      }
      throw new Error('a replay needs a recording before it in the same trial');
    }
    const run = runQemu(elf, spec.harts, extra);
    if (run.status !== 0 && variant !== 'plain' && QEMU_REFUSAL.test(run.stderr)) {
      values[`${variant}Refused`] = run.stderr.split('\n').at(-1)!;
      continue;
    }
    if (run.status !== 0) throw new Error(`qemu ${variant}: exit ${run.status}: ${run.stderr.split('\n').at(-1) ?? ''}`);
    values[`${variant}Seconds`] = run.seconds;
    if (variant === 'record') {
      recordedOutput = run.stdout;
      values.logBytes = statSync(rrfile).size;
    }
    if (variant === 'replay') values.reproduced = run.stdout.equals(recordedOutput!);
  }
  return values;
}

/** A figure's own script (experiments/NAME.ts), run whole; it writes its results itself. */
export function runScriptTrial(spec: ScriptTrial, resultsDir: string): TrialValues {
  const started = process.hrtime.bigint();
  const tsx = join(repoRoot, 'node_modules', '.bin', 'tsx');
  const r = spawnSync(tsx, [resolve(repoRoot, spec.script), ...(spec.quick ? ['--quick'] : [])], {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, RRKIT_RESULTS_DIR: resultsDir },
  });
  if (r.error !== undefined) throw r.error;
  if (r.status !== 0) throw new Error(`${spec.script} exited with ${r.status ?? r.signal}`);
  return { seconds: secondsSince(started) };
}

/** The version line of qemu-system-riscv64, for the results' metadata; null when it is not installed. */
export function qemuVersion(): string | null {
  const r = spawnSync('qemu-system-riscv64', ['--version'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.split('\n')[0]!.trim() : null;
}

/** Reads a trial's spec file (trial-main.ts). */
export function readJson<T>(path: string): T {
  return JSON.parse(readFileSync(path, 'utf8')) as T;
}
