/**
 * The engines rrkit knows, and how one is chosen: by name (`--engine`, a log's header) or
 * by the ELF machine type of the guest image. The one place that knows which engines exist.
 */
import type { GuestImage } from '../guests/image.js';
import { emuEngine } from './emu.js';
import { kvmEngine } from './kvm.js';
import type { Engine, EngineName, LandmarkUnit } from './engine.js';

export type { Engine, EngineName, LandmarkUnit };

/** The engine for built-in workloads when none is named. */
export const DEFAULT_ENGINE: EngineName = 'emu';

/** Every engine name a command line or a log header may give. */
export const ENGINE_NAMES: readonly EngineName[] = ['emu', 'kvm'];

/**
 * The engines this build can run, by name. (kvm is always built; whether this host's
 * /dev/kvm works is its run's business: one line naming the cause when it does not.)
 */
const AVAILABLE: ReadonlyMap<EngineName, Engine> = new Map([
  [emuEngine.name, emuEngine],
  [kvmEngine.name, kvmEngine],
]);

/** What each engine's landmarks count, known also for engines this build cannot run (their logs can still be read). */
const LANDMARK_UNITS: Readonly<Record<EngineName, LandmarkUnit>> = { emu: 'instructions', kvm: 'exits' };

export function isEngineName(name: string): name is EngineName {
  return (ENGINE_NAMES as readonly string[]).includes(name);
}

/** The engine called `name`; a one-line Error when this build cannot run it. */
export function engineNamed(name: string): Engine {
  const engine = isEngineName(name) ? AVAILABLE.get(name) : undefined;
  if (engine !== undefined) return engine;
  throw new Error(`unknown engine '${name}' (engines: ${ENGINE_NAMES.join(', ')})`);
}

/** What a landmark counts on the engine `name` (a log header's engine); instructions for names this build does not know. */
export function landmarkUnitOf(name: string): LandmarkUnit {
  return isEngineName(name) ? LANDMARK_UNITS[name] : 'instructions';
}

/**
 * The engine for `image`: `requested` when given (its loader refuses an image of another
 * architecture), else the one whose ELF machine type the image has. A file that is not an
 * ELF, or of a machine no engine runs, goes to emu, whose loader says what is wrong with it.
 */
export function engineFor(image: GuestImage, requested?: string): Engine {
  if (requested !== undefined) return engineNamed(requested);
  for (const engine of AVAILABLE.values()) if (engine.elfMachine === image.elfMachine) return engine;
  return emuEngine;
}
