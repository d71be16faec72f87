/**
 * What the two engines have in common for the commands and sessions: which engine runs an
 * ELF, which guest architecture each runs, what its landmarks count, and the few facts of
 * a finished run that record, replay and verify compare whichever engine ran it.
 */
import type { GuestArch } from '../guests/catalog.js';
import type { EmuRunResult } from './emu.js';
import type { KvmRunResult } from './kvm.js';

export type EngineName = 'emu' | 'kvm';
export const ENGINE_NAMES: readonly EngineName[] = ['emu', 'kvm'];

const ELF_MACHINE_X86_64 = 62;
const ELF_MACHINE_RISCV = 243;

export function archOfEngine(engine: EngineName): GuestArch {
  return engine === 'kvm' ? 'x86_64' : 'rv64';
}

/** What a landmark counts on `engine`: retired instructions (emu) or VM exits (kvm). */
export function landmarkUnit(engine: EngineName): 'instructions' | 'exits' {
  return engine === 'kvm' ? 'exits' : 'instructions';
}

/** The engine that runs an ELF, from its machine type; throws a one-line Error otherwise. */
export function engineForElf(image: Uint8Array, path: string): EngineName {
  const isElf = image.length >= 20 && image[0] === 0x7f && image[1] === 0x45 && image[2] === 0x4c && image[3] === 0x46;
  if (!isElf) throw new Error(`${path}: not an ELF file`);
  const machine = image[18]! | (image[19]! << 8);
  if (machine === ELF_MACHINE_RISCV) return 'emu';
  if (machine === ELF_MACHINE_X86_64) return 'kvm';
  throw new Error(`${path}: an ELF for machine ${machine}; rrkit runs riscv64 (emu) and x86_64 (kvm) guests`);
}

/** Either engine's result. */
export type EngineRunResult = EmuRunResult | KvmRunResult;

export function isKvmResult(result: EngineRunResult): result is KvmRunResult {
  return 'exits' in result;
}

/** Each vCPU's final landmark. */
export function finalLandmarks(result: EngineRunResult): bigint[] {
  return isKvmResult(result) ? [result.exits] : result.harts.map((h) => h.instret);
}

/** The sum of every vCPU's final landmark. */
export function totalLandmarks(result: EngineRunResult): bigint {
  return finalLandmarks(result).reduce((a, b) => a + b, 0n);
}
