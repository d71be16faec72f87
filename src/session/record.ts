/**
 * Recording: run a guest with its real inputs (host clock, entropy, console input, timer
 * interrupts at host time) and log every value and interrupt at its exact landmark, on any
 * engine and any vCPU count. With several vCPUs, CREW page ownership orders their
 * shared-memory accesses and the log holds every ownership transfer
 * (src/smp/crew-options.ts, docs/crew.md).
 */
import type { ConsoleInput, RunProgress, RunResult } from '../engines/engine.js';
import { engineFor } from '../engines/index.js';
import { guestImage, type GuestImage } from '../guests/image.js';
import { CREW_DEFAULT_HOLD, checkCrewHold, crewGranularityFor } from '../smp/crew-options.js';

/** Checkpoint interval when none is given: a few per second of guest time at emu speed. */
export const DEFAULT_CHECKPOINT_INTERVAL = 50_000_000n;

export interface RecordOptions {
  /** the guest ELF's path, or its image already read */
  elf: string | GuestImage;
  logPath: string;
  /** default: the engine for the ELF's machine type */
  engine?: string;
  vcpus?: number;
  ramMiB?: number;
  input?: ConsoleInput;
  /** a checkpoint (register and memory hashes) every this many landmarks of vCPU 0; 0n: none */
  checkpointInterval?: bigint;
  capture?: boolean | 'tagged';
  /** called about once a second while the guest runs */
  onProgress?: (sample: RunProgress) => void;
  timeoutSeconds?: number;
  /** bytes per CREW ownership page with several vCPUs (64 B .. 2 MiB, a power of two); default 4 KiB */
  crewGranularity?: number;
  /** instructions a vCPU keeps a page it gained before serving requests for it; default CREW_DEFAULT_HOLD */
  crewHold?: number;
}

export async function record(options: RecordOptions): Promise<RunResult> {
  const vcpus = options.vcpus ?? 1;
  const crewGranularity = crewGranularityFor(vcpus, options.crewGranularity);
  const crewHold = checkCrewHold(options.crewHold ?? CREW_DEFAULT_HOLD);
  const image = await guestImage(options.elf);
  return engineFor(image, options.engine).run(image, {
    vcpus,
    ramMiB: options.ramMiB,
    input: options.input,
    capture: options.capture,
    timeoutSeconds: options.timeoutSeconds,
    onProgress: options.onProgress,
    checkpointInterval: options.checkpointInterval ?? DEFAULT_CHECKPOINT_INTERVAL,
    session: {
      mode: 'record',
      path: options.logPath,
      // The bytes the engine runs are the bytes hashed here.
      imageHash: image.sha256,
      imagePath: image.path,
      crewGranularity,
      crewHold,
      // For provenance: replay does not need it (it follows the logged edges).
      configJson: JSON.stringify(vcpus > 1 ? { rrkit: 1, crewHold } : { rrkit: 1 }),
    },
  });
}
