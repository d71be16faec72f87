/**
 * The emu engine (native/emu/): RV64IMA guests on a software multiprocessor whose harts
 * run M:N on a pool of host threads, landmarks = retired instructions. Checks and defaults the run options,
 * then makes one native call with the image bytes it was given.
 */
import { printable } from '../files/printable.js';
import { native, type NativeSession } from '../native.js';
import type { GuestImage } from '../guests/image.js';
import { ELF_MACHINE_RISCV } from '../guests/image.js';
import { settle, type Engine, type RunOptions, type RunResult } from './engine.js';
import { checkInput, checkInteger, checkShuffleSeed } from './native-arguments.js';
import { fromNativeError } from './native-error.js';

const DEFAULT_RAM_MIB = 128;
/** A few checkpoints per second of guest time at emu speed. */
const DEFAULT_CHECKPOINT_INTERVAL = 50_000_000n;
const MAX_RAM_MIB = 4096;

const MAX_THREADS = 1024;

function checkSerialize(what: string, serialize: unknown): void {
  if (typeof serialize !== 'object' || serialize === null) throw new TypeError(`${what} must be an object`);
  for (const [name, value] of Object.entries(serialize)) {
    if (name === 'sharePages') {
      if (typeof value !== 'boolean') throw new TypeError(`${what}.${name} must be a boolean`);
    } else {
      checkInteger(`${what}.${name}`, value, 0, Number.MAX_SAFE_INTEGER);
    }
  }
}

function checkSession(session: NativeSession | undefined): NativeSession | null {
  if (session === undefined) return null;
  if (session.mode === 'record') {
    checkInteger('session.crewHold', session.crewHold, 0, Number.MAX_SAFE_INTEGER);
    checkSerialize('session.serialize', session.serialize);
  } else if (session.thenRun !== null && session.thenRun.serialize !== undefined) {
    checkSerialize('session.thenRun.serialize', session.thenRun.serialize);
  }
  return session;
}

/** emuRun's arguments after the image and its name, in order (see NativeAddon.emuRun). */
export interface EmuRunArguments {
  harts: number;
  ramBytes: number;
  timeoutMs: number;
  checkpointInterval: bigint;
  stopAt: readonly bigint[];
  input: Buffer | number | null;
  capture: boolean | 'tagged';
  session: NativeSession | null;
  progressIntervalMs: number;
  /** timing only: how the harts share host threads, and whether busy-waits are detected */
  schedule: EmuSchedule;
}

/** emuRun's last argument (native/emu/binding.cc). */
export interface EmuSchedule {
  /** 0: the host's cores */
  threads: number;
  sliceInstructions: number;
  spinDetection: boolean;
  /** 0: the usual schedule */
  shuffleSeed: number;
}

const DEFAULT_SLICE_INSTRUCTIONS = 100_000;

/**
 * Checks `options` and fills in the defaults; throws TypeError/RangeError (one line naming
 * the option) before anything runs. `maxHarts`: the machine's limit (the addon's).
 */
export function emuRunArguments(options: RunOptions, maxHarts: number): EmuRunArguments {
  const harts = checkInteger('vcpus', options.vcpus ?? 1, 1, maxHarts);
  const ramMiB = checkInteger('ramMiB', options.ramMiB ?? DEFAULT_RAM_MIB, 1, MAX_RAM_MIB);
  const timeoutSeconds = options.timeoutSeconds ?? 0;
  if (typeof timeoutSeconds !== 'number' || !Number.isFinite(timeoutSeconds)) throw new TypeError('timeoutSeconds must be a number');
  if (timeoutSeconds < 0) throw new RangeError(`timeoutSeconds must not be negative, not ${timeoutSeconds}`);
  const stopAt = options.stopAt ?? [];
  if (stopAt.length > harts) throw new RangeError(`stopAt names ${stopAt.length} vCPUs; the machine has ${harts}`);
  for (const count of stopAt) {
    if (typeof count !== 'bigint' || count < 0n) throw new TypeError('stopAt entries must be non-negative bigints');
  }
  const checkpointInterval = options.checkpointInterval ?? 0n;
  if (typeof checkpointInterval !== 'bigint' || checkpointInterval < 0n)
    throw new TypeError('checkpointInterval must be a non-negative bigint');
  const input = checkInput(options.input);
  if (options.disk !== undefined) throw new RangeError("disk: the emu engine's board has no block device (the kvm engine's has)");
  const session = checkSession(options.session);
  if (options.onProgress !== undefined && typeof options.onProgress !== 'function') throw new TypeError('onProgress must be a function');
  const progressIntervalMs = checkInteger('progressIntervalMs', options.progressIntervalMs ?? 1000, 10, 3_600_000);
  const threads = options.threads === undefined ? 0 : checkInteger('threads', options.threads, 1, MAX_THREADS);
  const sliceInstructions = checkInteger('sliceInstructions', options.sliceInstructions ?? DEFAULT_SLICE_INSTRUCTIONS, 1, 1e12);
  const spinDetection = options.spinDetection ?? true;
  if (typeof spinDetection !== 'boolean') throw new TypeError('spinDetection must be a boolean');
  const shuffleSeed = checkShuffleSeed(options.shuffleSeed);
  return {
    harts,
    ramBytes: ramMiB * 1024 * 1024,
    timeoutMs: Math.round(timeoutSeconds * 1000),
    checkpointInterval,
    stopAt,
    input,
    capture: options.capture ?? false,
    session,
    progressIntervalMs,
    schedule: { threads, sliceInstructions, spinDetection, shuffleSeed },
  };
}

async function run(image: GuestImage, options: RunOptions): Promise<RunResult> {
  const a = emuRunArguments(options, native().emuMaxHarts);
  const onProgress = options.onProgress;
  let result: RunResult;
  try {
    result = await native().emuRun(
      image.bytes,
      // The name in the loader's messages: escaped, since it is printed as it is.
      printable(image.path),
      a.harts,
      a.ramBytes,
      a.timeoutMs,
      a.checkpointInterval,
      a.stopAt,
      a.input,
      a.capture,
      a.session,
      onProgress === undefined
        ? null
        : { callback: (sample) => onProgress({ ...sample, landmarkUnit: 'instructions' }), intervalMs: a.progressIntervalMs },
      a.schedule,
    );
  } catch (error) {
    throw fromNativeError(error);
  }
  return settle(result);
}

export const emuEngine: Engine = {
  name: 'emu',
  landmarkUnit: 'instructions',
  guestArch: 'rv64',
  elfMachine: ELF_MACHINE_RISCV,
  get maxVcpus() {
    return native().emuMaxHarts;
  },
  defaultRamMiB: DEFAULT_RAM_MIB,
  maxRamMiB: MAX_RAM_MIB,
  defaultCheckpointInterval: DEFAULT_CHECKPOINT_INTERVAL,
  // A checkpoint hashes all written memory and logs ~19 bytes per vCPU: closer than this it
  // costs more than the run (every instruction: 19 bytes per instruction).
  minCheckpointInterval: 10_000n,
  run,
};
