/**
 * The kvm engine from TypeScript: option validation and defaults, then one native call.
 * Errors in the options are TypeError/RangeError thrown before native code runs; a host
 * without a usable /dev/kvm gets one line saying why (kvmAvailability).
 */
import { readFile } from 'node:fs/promises';
import { native, type KvmNativeDisk, type KvmNativeResult, type KvmNativeSession, type KvmProbeResult, type KvmProgress } from '../native.js';

export type { KvmProgress };

export const KVM_DEFAULT_RAM_MIB = 128;

/** Where the guest's console input comes from (as for emu). */
export type KvmInput = { kind: 'none' } | { kind: 'bytes'; data: Uint8Array } | { kind: 'fd'; fd: number };

export interface KvmRunOptions {
  /** path of the guest ELF (x86_64, built with rrkit's runtime) */
  elf: string;
  /** guest RAM in MiB, 2..4096; default 128 */
  ramMiB?: number;
  /** stop the guest after this many seconds (0 or absent: no limit); a guest that makes no exit is kicked */
  timeoutSeconds?: number;
  input?: KvmInput;
  /** capture console output in the result instead of writing it to stdout */
  capture?: boolean;
  /** recording: a checkpoint every this many exits (0n: none; default 0n) */
  checkpointInterval?: bigint;
  session?: KvmNativeSession;
  /** the board's disk; default none */
  disk?: KvmNativeDisk;
  onProgress?: (sample: KvmProgress) => void;
  progressIntervalMs?: number;
}

export type KvmRunResult = KvmNativeResult;

/** A guest that failed: a fault, the timeout, or a replay that diverged. The message is one line. */
export class KvmGuestError extends Error {
  override name = 'KvmGuestError';
  constructor(
    message: string,
    readonly result: KvmRunResult,
  ) {
    super(message);
  }
}

let probed: KvmProbeResult | undefined;

/** Whether /dev/kvm works here (asked once per process). */
export function kvmAvailability(): KvmProbeResult {
  probed ??= native().kvmProbe();
  return probed;
}

function checkInteger(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) throw new TypeError(`${name} must be an integer`);
  if (value < min || value > max) throw new RangeError(`${name} must be between ${min} and ${max}, not ${value}`);
  return value;
}

function checkInput(input: KvmInput | undefined): Buffer | number | null {
  if (input === undefined || input.kind === 'none') return null;
  if (input.kind === 'bytes') {
    if (!(input.data instanceof Uint8Array)) throw new TypeError('input.data must be a Uint8Array');
    return Buffer.from(input.data);
  }
  if (input.kind === 'fd') return checkInteger('input.fd', input.fd, 0, 2 ** 31 - 1);
  throw new TypeError(`unknown input kind ${(input as { kind: unknown }).kind}`);
}

function checkDisk(disk: KvmNativeDisk | undefined): KvmNativeDisk | null {
  if (disk === undefined) return null;
  if (disk.path !== null && (typeof disk.path !== 'string' || disk.path === '')) throw new TypeError('disk.path must be a path or null');
  checkInteger('disk.sectors', disk.sectors, 0, Number.MAX_SAFE_INTEGER);
  if (typeof disk.shared !== 'boolean') throw new TypeError('disk.shared must be a boolean');
  if (disk.shared && disk.path === null) throw new TypeError('a shared disk needs its image (disk.path)');
  return { path: disk.path, sectors: disk.sectors, shared: disk.shared };
}

/**
 * Runs an x86_64 guest ELF to completion on /dev/kvm. Resolves when the guest exits;
 * rejects with KvmGuestError for a fault, the timeout or a divergence, and with Error
 * (one line) when /dev/kvm cannot be used.
 */
export async function runKvm(options: KvmRunOptions): Promise<KvmRunResult> {
  if (typeof options.elf !== 'string' || options.elf === '') throw new TypeError('elf must be a path');
  const ramMiB = checkInteger('ramMiB', options.ramMiB ?? KVM_DEFAULT_RAM_MIB, 2, 4096);
  const timeoutSeconds = options.timeoutSeconds ?? 0;
  if (typeof timeoutSeconds !== 'number' || !Number.isFinite(timeoutSeconds)) throw new TypeError('timeoutSeconds must be a number');
  if (timeoutSeconds < 0) throw new RangeError(`timeoutSeconds must not be negative, not ${timeoutSeconds}`);
  const checkpointInterval = options.checkpointInterval ?? 0n;
  if (typeof checkpointInterval !== 'bigint' || checkpointInterval < 0n) throw new TypeError('checkpointInterval must be a non-negative bigint');
  const input = checkInput(options.input);
  const disk = checkDisk(options.disk);
  if (options.onProgress !== undefined && typeof options.onProgress !== 'function') throw new TypeError('onProgress must be a function');
  const progressIntervalMs = checkInteger('progressIntervalMs', options.progressIntervalMs ?? 1000, 10, 3_600_000);

  const availability = kvmAvailability();
  if (!availability.available) throw new Error(availability.reason);

  let image: Buffer;
  try {
    image = await readFile(options.elf);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new Error(code === 'ENOENT' ? `${options.elf}: no such file` : `${options.elf}: cannot read (${code ?? String(error)})`);
  }
  const result = await native().kvmRun(
    image,
    options.elf,
    ramMiB * 1024 * 1024,
    Math.round(timeoutSeconds * 1000),
    checkpointInterval,
    input,
    options.capture ?? false,
    options.session ?? null,
    options.onProgress === undefined ? null : { callback: options.onProgress, intervalMs: progressIntervalMs },
    disk,
  );
  if (result.outcome !== 'exited') throw new KvmGuestError(result.error, result);
  return result;
}
