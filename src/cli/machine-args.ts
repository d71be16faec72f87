/** Checks and conversions for the machine options that run, record and demo share. */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { EMU_MAX_HARTS, type EmuInput } from '../engines/emu.js';
import { archOfEngine, engineForElf, type EngineName } from '../engines/engine.js';
import { kvmAvailability } from '../engines/kvm.js';
import { findWorkload, resolveGuest } from '../guests/catalog.js';
import { UsageError } from './errors.js';

export function checkVcpus(vcpus: number): number {
  if (!Number.isInteger(vcpus) || vcpus < 1 || vcpus > EMU_MAX_HARTS)
    throw new UsageError(`--vcpus must be an integer from 1 to ${EMU_MAX_HARTS}, not ${vcpus}`);
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

/** Throws a one-line Error naming why the engine cannot run here (kvm: no usable /dev/kvm). */
export function checkEngineAvailable(engine: EngineName): void {
  if (engine !== 'kvm') return;
  const availability = kvmAvailability();
  if (!availability.available) throw new Error(availability.reason);
}

/**
 * The engine and ELF for a GUEST argument. With --engine, that engine. Without: a path runs
 * on the engine for its ELF machine type; a built-in workload's name on emu, unless it
 * needs a disk or one is given (only the kvm engine's board has a block device).
 */
export function chooseGuest(guest: string, engine: EngineName | undefined, hasDisk = false): { engine: EngineName; elf: string } {
  if (engine !== undefined) return { engine, elf: resolveGuest(guest, archOfEngine(engine)) };
  const builtIn = findWorkload(guest);
  if (builtIn !== undefined) {
    const chosen: EngineName = builtIn.workload.needsDisk || hasDisk ? 'kvm' : 'emu';
    return { engine: chosen, elf: resolveGuest(guest, archOfEngine(chosen)) };
  }
  const elf = resolveGuest(guest, 'rv64');  // a path: the arch only matters for names
  let image: Buffer;
  try {
    image = readFileSync(elf);
  } catch {
    throw new Error(`${elf}: cannot read`);
  }
  return { engine: engineForElf(image, elf), elf };
}

/** The kvm engine runs one vCPU. */
export function checkVcpusForEngine(engine: EngineName, vcpus: number): number {
  if (engine === 'kvm' && vcpus !== 1) throw new UsageError(`--vcpus ${vcpus}: the kvm engine runs one vCPU`);
  return checkVcpus(vcpus);
}

/** `--input FILE` (its bytes), `--input -` (stdin, polled without blocking) or none. */
export async function readConsoleInput(path: string | undefined): Promise<EmuInput> {
  if (path === undefined) return { kind: 'none' };
  if (path === '-') return { kind: 'fd', fd: 0 };
  try {
    return { kind: 'bytes', data: await readFile(path) };
  } catch {
    throw new UsageError(`--input ${path}: no such file or not readable`);
  }
}
