/**
 * What the rrkit figures share: which engine runs how many vCPUs on this commit and this
 * machine (a cell that cannot run says why, never silently missing), the workload lists (the
 * catalog's, so that new sharing workloads join the figures), and the common metrics.
 */
import { existsSync } from 'node:fs';
import { kvmAvailability } from '../../src/engines/kvm.js';
import { engineNamed } from '../../src/engines/index.js';
import { join } from 'node:path';
import { builtGuestPath, REPO_ROOT, WORKLOADS } from '../../src/guests/catalog.js';
import type { Metric } from './figure.js';
import type { RrkitTrial, RunVariant, TrialValues } from './trial-spec.js';

export type EngineName = 'emu' | 'kvm';

/** What each engine's landmarks count, for column units. */
export const LANDMARK_UNIT: Readonly<Record<EngineName, string>> = { emu: 'instructions', kvm: 'VM exits' };

/** Why `engine` cannot run `vcpus` vCPUs here ("not available on this commit: …", "not measured here: …"); null when it can. */
export function unavailableReason(engine: EngineName, vcpus: number): string | null {
  if (engine === 'kvm') {
    const kvm = kvmAvailability();
    if (!kvm.available) return `not measured here: ${kvm.reason}`;
  }
  const max = engineNamed(engine).maxVcpus;
  if (vcpus > max) return `not available on this commit: the ${engine} engine runs at most ${max} vCPU${max === 1 ? '' : 's'}`;
  return null;
}

/** Built-in workloads of these classes in the catalog's order, less the ones that need a disk. */
export function workloadsOf(...classes: string[]): string[] {
  return WORKLOADS.filter((w) => classes.includes(w.class) && !w.needsDisk).map((w) => w.name);
}

/** A cell's trial, or why it has none (a workload not built for the engine's architecture, an engine that cannot). */
export function rrkitCell(
  key: Record<string, string | number>,
  trial: Omit<RrkitTrial, 'kind'>,
): { key: Record<string, string | number>; trial?: RrkitTrial; unavailable?: string } {
  const reason = unavailableReason(trial.engine, trial.vcpus);
  if (reason !== null) return { key, unavailable: reason };
  const elf = trial.elf !== undefined ? join(REPO_ROOT, trial.elf) : builtGuestPath(trial.workload, trial.engine === 'kvm' ? 'x86_64' : 'rv64', trial.small);
  if (!existsSync(elf)) return { key, unavailable: `not built: ${elf} (make -C guests)` };
  return { key, trial: { kind: 'rrkit', ...trial } };
}

/** Every rrkit timing figure runs these, in this order, in one trial: like with like. */
export const ALL_VARIANTS: readonly RunVariant[] = ['plain', 'record', 'replay'];

const num = (v: TrialValues[string] | undefined): number | null => (typeof v === 'number' ? v : null);
const ratio = (a: TrialValues[string] | undefined, b: TrialValues[string] | undefined): number | null => {
  const x = num(a);
  const y = num(b);
  return x === null || y === null || y === 0 ? null : x / y;
};

export const METRICS = {
  recordOverPlain: { column: 'record_over_plain', unit: '× (record time / plain-run time, same trial)', of: (v) => ratio(v.recordSeconds, v.plainSeconds) },
  replayOverPlain: { column: 'replay_over_plain', unit: '× (replay time / plain-run time, same trial)', of: (v) => ratio(v.replaySeconds, v.plainSeconds) },
  replayOverRecord: { column: 'replay_over_record', unit: '× (replay time / record time, same trial)', of: (v) => ratio(v.replaySeconds, v.recordSeconds) },
  plainSeconds: { column: 'plain_s', unit: 's (plain run, wall clock)', of: (v) => num(v.plainSeconds) },
  recordSeconds: { column: 'record_s', unit: 's (recording, wall clock)', of: (v) => num(v.recordSeconds) },
  replaySeconds: { column: 'replay_s', unit: 's (replay, wall clock)', of: (v) => num(v.replaySeconds) },
  logBytes: { column: 'log_bytes', unit: 'bytes (the log file)', of: (v) => num(v.logBytes) },
  logBytesPerMillionLandmarks: {
    column: 'log_bytes_per_million_landmarks',
    unit: 'bytes of log per million landmarks (emu: instructions retired, all vCPUs; kvm: VM exits)',
    of: (v) => {
      const bytes = num(v.logBytes);
      const landmarks = num(v.landmarks);
      return bytes === null || landmarks === null || landmarks === 0 ? null : (bytes * 1e6) / landmarks;
    },
  },
  logBytesPerSecond: {
    column: 'log_bytes_per_second',
    unit: 'bytes of log (as written) per second of recording',
    of: (v) => ratio(v.logBytes, v.recordSeconds),
  },
  transfersPerMillion: {
    column: 'transfers_per_million_landmarks',
    unit: 'CREW ownership transfers per million landmarks',
    of: (v, log) => {
      const landmarks = num(v.landmarks);
      return log === undefined || landmarks === null || landmarks === 0 ? null : (log.crewTransfers * 1e6) / landmarks;
    },
  },
} satisfies Record<string, Metric>;

/**
 * "3/3 stopped after 20× the plain run: record_over_plain is a lower bound" when recordings
 * ran past their budget (trial-kinds.ts), else "".
 */
export function recordStoppedFact(repeats: readonly TrialValues[]): string {
  const stopped = repeats.filter((v) => typeof v.recordStopped === 'string');
  if (stopped.length === 0) return '';
  return `${stopped.length}/${repeats.length} ${String(stopped[0]!.recordStopped)}: record_over_plain is a lower bound, no replay`;
}

/** "yes (3/3)", "NO (1 of 3 diverged: …)": whether each repeat's replay reproduced its recording. */
export function reproducedFact(repeats: readonly TrialValues[]): string {
  const checked = repeats.filter((v) => typeof v.reproduced === 'boolean');
  if (checked.length === 0) return '';
  const failed = checked.filter((v) => v.reproduced !== true);
  if (failed.length === 0) return `yes (${checked.length}/${checked.length})`;
  const where = failed.map((v) => v.divergence).filter((d) => typeof d === 'string');
  return `NO (${failed.length} of ${checked.length}${where.length > 0 ? `: ${where[0]}` : ''})`;
}
