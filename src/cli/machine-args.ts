/** Checks and conversions for the machine options that run, record and demo share. */
import { closeSync } from 'node:fs';
import type { ConsoleInput, Engine } from '../engines/engine.js';
import { DEFAULT_ENGINE, engineFor, engineNamed } from '../engines/index.js';
import { openRegularFile } from '../files/regular-file.js';
import { findWorkload, resolveGuest } from '../guests/catalog.js';
import { readGuestImage, type GuestImage } from '../guests/image.js';
import type { ReadPath } from '../session/log-destination.js';
import { MAX_DISK_BYTES } from '../session/recorded-disk.js';
import { UsageError } from './errors.js';
import { numberOption } from './number-option.js';

/** The most vCPUs any engine has, for help texts (each engine checks its own limit). */
export function maxVcpusHelp(): string {
  return `1..${engineNamed(DEFAULT_ENGINE).maxVcpus} on emu`;
}

/** `--vcpus` as typed (default 1). */
export function checkVcpus(raw: string | number | undefined, engine: Engine): number {
  if (engine.maxVcpus === 1) {
    const vcpus = numberOption('--vcpus', raw, { integer: true, min: 1, max: Number.MAX_SAFE_INTEGER }) ?? 1;
    if (vcpus !== 1) throw new UsageError(`--vcpus ${vcpus}: the ${engine.name} engine runs one vCPU`);
    return vcpus;
  }
  return numberOption('--vcpus', raw, { integer: true, min: 1, max: engine.maxVcpus }) ?? 1;
}

/** `--ram` as typed, or undefined for the engine's default. */
export function checkRamMiB(raw: string | number | undefined): number | undefined {
  return numberOption('--ram', raw, { integer: true, min: 1, max: 4096, unit: 'MiB' });
}

/** `--threads` as typed: host threads for the vCPUs (emu runs them M:N); absent: the host's cores. */
export function checkThreads(raw: string | number | undefined): number | undefined {
  return numberOption('--threads', raw, { integer: true, min: 1, max: 1024 });
}

export const THREADS_OPTION = {
  type: 'string',
  describe: 'host threads that run the vCPUs, M:N (1..1024; default: the host\'s cores; as many as vCPUs is one thread each)',
} as const;

/** `--timeout` as typed (default 0: none). At most a year: beyond that it is a typo. */
export function checkTimeout(raw: string | number | undefined): number {
  return numberOption('--timeout', raw, { integer: false, min: 0, max: 365 * 24 * 3600, unit: 'seconds; 0: none' }) ?? 0;
}

/**
 * A GUEST argument and an optional `--engine`, as the image (read once, here) and the
 * engine that runs it: the named engine (a built-in workload then for its architecture),
 * else for a file the ELF's machine type, and for a built-in workload the default engine —
 * or kvm when the workload reads a disk or `withDisk` (only the kvm board has a block device).
 */
export async function guestAndEngine(
  guest: string,
  engineName: string | undefined,
  withDisk = false,
): Promise<{ image: GuestImage; engine: Engine }> {
  const builtIn = findWorkload(guest);
  const diskEngine = builtIn !== undefined && (builtIn.workload.needsDisk || withDisk) ? 'kvm' : undefined;
  const named = engineName === undefined ? undefined : engineNamed(engineName);
  const path = resolveGuest(guest, (named ?? engineNamed(diskEngine ?? DEFAULT_ENGINE)).guestArch);
  const image = await readGuestImage(path);
  return { image, engine: named ?? (diskEngine !== undefined ? engineNamed(diskEngine) : engineFor(image)) };
}

/**
 * `--disk FILE` for an engine: only the kvm engine's board has a block device, and the file
 * must be a regular one of at most MAX_DISK_BYTES (checked before anything runs).
 */
export function checkDiskOption(disk: string | undefined, engine: Engine): void {
  if (disk === undefined) return;
  checkDiskEngine(engine);
  const { fd } = openRegularFile(disk, '--disk', MAX_DISK_BYTES, 'rrkit hashes the whole image');
  closeSync(fd);
}

/** A disk for `engine`: only the kvm engine's board has a block device. */
export function checkDiskEngine(engine: Engine): void {
  if (engine.name !== 'kvm') throw new UsageError("--disk: only the kvm engine's board has a block device");
}

/** Console input for a run, and what to release after it. */
export interface ConsoleInputSource {
  input: ConsoleInput;
  /** the file read, for `record -o` to refuse it */
  reads: ReadPath[];
  close(): void;
}

/**
 * `--input FILE` (a regular file, streamed: the engine reads it as the guest asks, so a
 * file of any size costs no memory), `--input -` (stdin, polled without blocking) or none.
 * A FIFO, a device or a directory is refused: use `--input -` with a redirection for those.
 */
export function openConsoleInput(path: string | undefined): ConsoleInputSource {
  if (path === undefined) return { input: { kind: 'none' }, reads: [], close: () => {} };
  if (path === '-') return { input: { kind: 'fd', fd: 0 }, reads: [], close: () => {} };
  if (path === '') throw new UsageError('--input needs a file, or - for stdin');
  const { fd } = openRegularFile(path, '--input');
  return { input: { kind: 'fd', fd }, reads: [{ role: 'the console input (--input)', path }], close: () => closeSync(fd) };
}
