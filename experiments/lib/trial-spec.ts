/**
 * What one trial runs: plain data (JSON), so that a figure declares its trials as a list, the
 * runner can run identical trials of several figures once, and a trial crosses into its own
 * process. The trial process (trial-main.ts) interprets it (trial-kinds.ts).
 */

/** One run of rrkit: some of plain run, recording and replay of a guest, in that order. */
export interface RrkitTrial {
  kind: 'rrkit';
  engine: 'emu' | 'kvm';
  /** a built-in workload's name */
  workload: string;
  /** the workload's quick-test size (`NAME.small`) */
  small: boolean;
  vcpus: number;
  variants: readonly RunVariant[];
  /** CREW page size in bytes (several vCPUs); default: rrkit's */
  crewGranularity?: number;
  /** the guest's ELF (from the repository's root) instead of the built-in workload's */
  elf?: string;
  /** a disk image of this many data sectors, made for the trial (kvm: disk-checksum); its bytes are logged */
  diskSectors?: number;
  /** when a recording is stopped: past `overPlain` × the plain run, and at least `floorSeconds` (default: trial-kinds.ts's) */
  recordBudget?: { overPlain: number; floorSeconds: number };
}

/** The same rv64 ELF under qemu-system-riscv64: plain TCG, and QEMU's own record/replay (-icount rr=). */
export interface QemuTrial {
  kind: 'qemu';
  workload: string;
  small: boolean;
  harts: number;
  variants: readonly RunVariant[];
}

/** A figure written by a script of its own (experiments/NAME.ts run whole, as failover.ts is). */
export interface ScriptTrial {
  kind: 'script';
  /** its path (absolute, or from the repository's root) */
  script: string;
  quick: boolean;
}

export type TrialSpec = RrkitTrial | QemuTrial | ScriptTrial;
export type RunVariant = 'plain' | 'record' | 'replay';

/**
 * What a trial measured: seconds per variant, counts, and `logPath` when it kept its log for
 * the analysis pool. A variant QEMU refuses is a `refused` string, not a failure.
 */
export type TrialValues = Record<string, number | string | boolean>;

/** A key that is the same for the same trial (the runner runs it once per repeat for every figure that lists it). */
export function trialKey(spec: TrialSpec): string {
  const sorted = (value: unknown): unknown =>
    value !== null && typeof value === 'object' && !Array.isArray(value)
      ? Object.fromEntries(Object.entries(value as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [k, sorted(v)]))
      : value;
  return JSON.stringify(sorted(spec));
}

/** A short name for progress lines and failures: "emu matmul 2 vCPUs". */
export function trialLabel(spec: TrialSpec): string {
  switch (spec.kind) {
    case 'rrkit':
      return `${spec.engine} ${spec.workload}${spec.small ? '.small' : ''} ${spec.vcpus} vCPU${spec.vcpus === 1 ? '' : 's'}${spec.crewGranularity === undefined ? '' : ` ${spec.crewGranularity} B pages`}`;
    case 'qemu':
      return `qemu ${spec.workload}${spec.small ? '.small' : ''} ${spec.harts} hart${spec.harts === 1 ? '' : 's'}`;
    case 'script':
      return spec.script;
  }
}
