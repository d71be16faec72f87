/**
 * The emu engine from TypeScript: option validation and defaults, then one native call.
 * Errors in the options are TypeError/RangeError thrown before native code runs.
 */
import { readFile } from 'node:fs/promises';
import { native, type EmuNativeResult, type EmuNativeSession, type EmuProgress } from '../native.js';

export type { EmuProgress };

export const EMU_MAX_HARTS = 8;
export const EMU_DEFAULT_RAM_MIB = 128;

/** Where the guest's UART input comes from. */
export type EmuInput = { kind: 'none' } | { kind: 'bytes'; data: Uint8Array } | { kind: 'fd'; fd: number };

export interface EmuRunOptions {
  /** path of the guest ELF */
  elf: string;
  /** harts (vCPUs), 1..8; default 1 */
  harts?: number;
  /** guest RAM in MiB, 1..4096; default 128 */
  ramMiB?: number;
  /** stop the guest after this many seconds (0 or absent: no limit) */
  timeoutSeconds?: number;
  /** console input; default none */
  input?: EmuInput;
  /** capture console output in the result instead of writing it to stdout; default false */
  capture?: boolean;
  /** stop each hart exactly at this retired-instruction count (one per hart) */
  stopAt?: readonly bigint[];
  /** a consistent cut every this many instructions of hart 0 (0 = never; default 0) */
  checkpointInterval?: bigint;
  /** record to or replay from a log (src/uniprocessor builds these); default: a plain run */
  session?: EmuNativeSession;
  /** called about every `progressIntervalMs` (default 1000) while the guest runs */
  onProgress?: (sample: EmuProgress) => void;
  progressIntervalMs?: number;
}

export type EmuRunResult = EmuNativeResult;

/** A guest that failed: an unhandled guest error, the timeout, or a replay that diverged. The message is one line. */
export class EmuGuestError extends Error {
  override name = 'EmuGuestError';
  constructor(
    message: string,
    readonly result: EmuRunResult,
  ) {
    super(message);
  }
}

function checkInteger(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) throw new TypeError(`${name} must be an integer`);
  if (value < min || value > max) throw new RangeError(`${name} must be between ${min} and ${max}, not ${value}`);
  return value;
}

function checkInput(input: EmuInput | undefined): Buffer | number | null {
  if (input === undefined || input.kind === 'none') return null;
  if (input.kind === 'bytes') {
    if (!(input.data instanceof Uint8Array)) throw new TypeError('input.data must be a Uint8Array');
    return Buffer.from(input.data);
  }
  if (input.kind === 'fd') return checkInteger('input.fd', input.fd, 0, 2 ** 31 - 1);
  throw new TypeError(`unknown input kind ${(input as { kind: unknown }).kind}`);
}

/**
 * Runs a guest ELF to completion and returns the native result. Resolves for 'exited' and
 * 'reached-counts'; rejects with EmuGuestError for a guest fault or a timeout.
 */
export async function runEmu(options: EmuRunOptions): Promise<EmuRunResult> {
  if (typeof options.elf !== 'string' || options.elf === '') throw new TypeError('elf must be a path');
  const harts = checkInteger('harts', options.harts ?? 1, 1, EMU_MAX_HARTS);
  const ramMiB = checkInteger('ramMiB', options.ramMiB ?? EMU_DEFAULT_RAM_MIB, 1, 4096);
  const timeoutSeconds = options.timeoutSeconds ?? 0;
  if (typeof timeoutSeconds !== 'number' || !Number.isFinite(timeoutSeconds)) throw new TypeError('timeoutSeconds must be a number');
  if (timeoutSeconds < 0) throw new RangeError(`timeoutSeconds must not be negative, not ${timeoutSeconds}`);
  const stopAt = options.stopAt ?? [];
  if (stopAt.length > harts) throw new RangeError(`stopAt names ${stopAt.length} harts; the machine has ${harts}`);
  for (const count of stopAt) {
    if (typeof count !== 'bigint' || count < 0n) throw new TypeError('stopAt entries must be non-negative bigints');
  }
  const checkpointInterval = options.checkpointInterval ?? 0n;
  if (typeof checkpointInterval !== 'bigint' || checkpointInterval < 0n)
    throw new TypeError('checkpointInterval must be a non-negative bigint');
  const input = checkInput(options.input);
  if (options.session?.mode === 'record') checkInteger('session.crewHold', options.session.crewHold, 0, Number.MAX_SAFE_INTEGER);
  if (options.onProgress !== undefined && typeof options.onProgress !== 'function') throw new TypeError('onProgress must be a function');
  const progressIntervalMs = checkInteger('progressIntervalMs', options.progressIntervalMs ?? 1000, 10, 3_600_000);

  let image: Buffer;
  try {
    image = await readFile(options.elf);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new Error(code === 'ENOENT' ? `${options.elf}: no such file` : `${options.elf}: cannot read (${code ?? String(error)})`);
  }
  const result = await native().emuRun(
    image,
    options.elf,
    harts,
    ramMiB * 1024 * 1024,
    Math.round(timeoutSeconds * 1000),
    checkpointInterval,
    stopAt,
    input,
    options.capture ?? false,
    options.session ?? null,
    options.onProgress === undefined ? null : { callback: options.onProgress, intervalMs: progressIntervalMs },
  );
  if (result.outcome !== 'exited' && result.outcome !== 'reached-counts') {
    throw new EmuGuestError(result.error, result);
  }
  return result;
}
