/**
 * What an engine is to the rest of rrkit: a name (the one a log's header records), what
 * its landmarks count, which guest images it runs, and one call that runs an image — a
 * plain run, a recording or a replay, as the session in its options says. Sessions
 * (src/session/) are written against this interface only; src/engines/index.ts lists the
 * engines.
 */
import type { GuestArch } from '../guests/catalog.js';
import type { GuestImage } from '../guests/image.js';
import type { NativeDisk, NativeOutcome, NativeProgress, NativeRunResult, NativeSession, NativeVcpuFinal } from '../native.js';

export type EngineName = 'emu' | 'kvm';

/** What a landmark counts: retired instructions (emu, exact) or synchronous VM exits (kvm). */
export type LandmarkUnit = 'instructions' | 'exits';

/** Where the guest's console input comes from. */
export type ConsoleInput = { kind: 'none' } | { kind: 'bytes'; data: Uint8Array } | { kind: 'fd'; fd: number };

export type RunOutcome = NativeOutcome;
export type RunResult = NativeRunResult;
export type VcpuFinal = NativeVcpuFinal;
export type SessionRequest = NativeSession;
/** A disk for the board's block device (only the kvm engine's board has one). */
export type DiskAttachment = NativeDisk;

/** A sample of a run in progress. */
export interface RunProgress extends NativeProgress {
  readonly landmarkUnit: LandmarkUnit;
}

export interface RunOptions {
  /** vCPUs, 1..engine.maxVcpus; default 1 */
  vcpus?: number;
  /** guest RAM in MiB, 1..4096; default engine.defaultRamMiB */
  ramMiB?: number;
  /** stop the guest after this many seconds (0 or absent: no limit) */
  timeoutSeconds?: number;
  /** console input; default none */
  input?: ConsoleInput;
  /**
   * capture console output in the result instead of writing it to stdout; default false.
   * 'tagged': stdout gets frames carrying each flush's log position (src/replication/engine-output.ts).
   */
  capture?: boolean | 'tagged';
  /** stop each vCPU exactly at this landmark (one per vCPU) */
  stopAt?: readonly bigint[];
  /** a consistent cut every this many landmarks of vCPU 0 (0 = never; default 0) */
  checkpointInterval?: bigint;
  /** record to or replay from a log (src/session/ builds these); default: a plain run */
  session?: SessionRequest;
  /** a disk for the board's block device; default none (an engine whose board has none refuses one) */
  disk?: DiskAttachment;
  /** called about every `progressIntervalMs` (default 1000) while the guest runs */
  onProgress?: (sample: RunProgress) => void;
  progressIntervalMs?: number;
  /**
   * emu: host threads that run the vCPUs, M:N (default: the host's cores; at most one per
   * vCPU is used, which is one thread per vCPU). Nothing logged depends on it.
   */
  threads?: number;
  /**
   * emu: instructions a vCPU runs before it gives its thread to another that waits for one
   * (default 100 000). Timing only: nothing logged depends on it.
   */
  sliceInstructions?: number;
  /**
   * emu: treat a busy-wait without the spin-wait hint like one with it (default true).
   * Timing only: a log recorded either way replays exactly either way.
   */
  spinDetection?: boolean;
  /**
   * Nonzero shuffles the host schedule, varied by the seed (native/machine/schedule_shuffle.h):
   * emu, any run: slice lengths, hand-over and wake-up orders; kvm, replays only: each vCPU
   * thread pauses at random after its gates. Timing only: a replay must come out the same
   * whatever it is (`rrkit verify --shuffle`).
   */
  shuffleSeed?: number;
}

export interface Engine {
  readonly name: EngineName;
  readonly landmarkUnit: LandmarkUnit;
  /** the built-in workloads' architecture for this engine (guests/build/ARCH/) */
  readonly guestArch: GuestArch;
  /** e_machine of the ELF images it runs */
  readonly elfMachine: number;
  readonly maxVcpus: number;
  readonly defaultRamMiB: number;
  /** the most guest RAM it takes, in MiB */
  readonly maxRamMiB: number;
  /** landmarks between checkpoints when a recording names no interval: a few checkpoints per second of typical guest time */
  readonly defaultCheckpointInterval: bigint;
  /** the fewest landmarks between checkpoints the command line takes (closer ones cost more than the run) */
  readonly minCheckpointInterval: bigint;
  /**
   * Runs `image` (these bytes, read once by the caller). Options are checked first
   * (TypeError/RangeError before anything runs). Resolves for 'exited', 'reached-counts'
   * and, in a replay, 'diverged' (the result says where); rejects with GuestFailure for a
   * guest fault or the timeout, with Interrupted when interruptRuns() stopped it, and with
   * EngineFailure when rrkit itself failed.
   */
  run(image: GuestImage, options: RunOptions): Promise<RunResult>;
}

/** A run that ended without the guest reaching its end; `result` holds what there is. The message is one line. */
export class RunFailure extends Error {
  override name = 'RunFailure';
  /** record: where the incomplete log was kept (src/session/log-destination.ts) */
  incompleteLog?: string;
  constructor(
    message: string,
    readonly result: RunResult,
  ) {
    super(message);
  }
}

/** The guest failed: an error it did not handle, or it ran past the timeout. */
export class GuestFailure extends RunFailure {
  override name = 'GuestFailure';
}

/** rrkit failed while running the guest (a host error), not the guest. */
export class EngineFailure extends RunFailure {
  override name = 'EngineFailure';
}

/** Stopped from outside (interruptRuns: SIGINT, SIGTERM) before the guest reached its end. */
export class Interrupted extends RunFailure {
  override name = 'Interrupted';
}

/** Turns an engine's result into the promise Engine.run describes. */
export function settle(result: RunResult): RunResult {
  if (result.outcome === 'fault' || result.outcome === 'timeout') throw new GuestFailure(result.error, result);
  if (result.outcome === 'host-error') throw new EngineFailure(result.error, result);
  if (result.outcome === 'interrupted') throw new Interrupted(result.error, result);
  return result;
}

/** The sum of every vCPU's final landmark. */
export function totalLandmarks(result: RunResult): bigint {
  return result.vcpus.reduce((sum, v) => sum + v.landmark, 0n);
}
