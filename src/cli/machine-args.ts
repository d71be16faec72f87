/** Checks and conversions for the machine options that run, record and demo share. */
import { readFile } from 'node:fs/promises';
import type { ConsoleInput, Engine } from '../engines/engine.js';
import { DEFAULT_ENGINE, engineFor, engineNamed } from '../engines/index.js';
import { findWorkload, resolveGuest } from '../guests/catalog.js';
import { readGuestImage, type GuestImage } from '../guests/image.js';
import { UsageError } from './errors.js';

/** The most vCPUs any engine has, for help texts (each engine checks its own limit). */
export function maxVcpusHelp(): string {
  return `1..${engineNamed(DEFAULT_ENGINE).maxVcpus} on emu`;
}

export function checkVcpus(vcpus: number, engine: Engine): number {
  if (engine.maxVcpus === 1 && vcpus !== 1) throw new UsageError(`--vcpus ${vcpus}: the ${engine.name} engine runs one vCPU`);
  if (!Number.isInteger(vcpus) || vcpus < 1 || vcpus > engine.maxVcpus)
    throw new UsageError(`--vcpus must be an integer from 1 to ${engine.maxVcpus}, not ${vcpus}`);
  return vcpus;
}

export function checkRamMiB(ram: number): number {
  if (!Number.isInteger(ram) || ram < 1 || ram > 4096)
    throw new UsageError(`--ram must be an integer number of MiB from 1 to 4096, not ${ram}`);
  return ram;
}

export function checkTimeout(seconds: number): number {
  if (!Number.isFinite(seconds) || seconds < 0)
    throw new UsageError(`--timeout must be a non-negative number of seconds, not ${seconds}`);
  return seconds;
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

/** `--disk FILE` for an engine: only the kvm engine's board has a block device. */
export function checkDiskOption(disk: string | undefined, engine: Engine): void {
  if (disk !== undefined && engine.name !== 'kvm') throw new UsageError("--disk: only the kvm engine's board has a block device");
}

/** `--input FILE` (its bytes), `--input -` (stdin, polled without blocking) or none. */
export async function readConsoleInput(path: string | undefined): Promise<ConsoleInput> {
  if (path === undefined) return { kind: 'none' };
  if (path === '-') return { kind: 'fd', fd: 0 };
  try {
    return { kind: 'bytes', data: await readFile(path) };
  } catch {
    throw new UsageError(`--input ${path}: no such file or not readable`);
  }
}
