/** Checks and conversions for the machine options that run, record and demo share. */
import { readFile } from 'node:fs/promises';
import { EMU_MAX_HARTS, type EmuInput } from '../engines/emu.js';
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

export function checkEngineAvailable(engine: string): void {
  if (engine === 'kvm') {
    throw new Error('the kvm engine is not available here: there is no /dev/kvm on this machine (use --engine emu)');
  }
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
