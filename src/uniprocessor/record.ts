/**
 * Recording: run a guest with its real inputs (host clock, entropy, console input, timer
 * interrupts at host time) and log every value and interrupt at its exact landmark.
 */
import { resolve } from 'node:path';
import { runEmu, type EmuInput, type EmuRunResult } from '../engines/emu.js';
import { imageHash, readGuestImage } from './guest-image.js';

/** Checkpoint interval when none is given: a few per second of guest time at emu speed. */
export const DEFAULT_CHECKPOINT_INTERVAL = 50_000_000n;

export interface RecordOptions {
  elf: string;
  logPath: string;
  vcpus?: number;
  ramMiB?: number;
  input?: EmuInput;
  /** a checkpoint (register and memory hashes) every this many instructions of vCPU 0; 0n: none */
  checkpointInterval?: bigint;
  capture?: boolean;
  timeoutSeconds?: number;
}

export async function record(options: RecordOptions): Promise<EmuRunResult> {
  const vcpus = options.vcpus ?? 1;
  if (vcpus !== 1) {
    throw new RangeError(
      `recording ${vcpus} vCPUs needs CREW page-ownership tracking, which is not wired into the emu engine yet; record with --vcpus 1`,
    );
  }
  const image = await readGuestImage(options.elf);
  const checkpointInterval = options.checkpointInterval ?? DEFAULT_CHECKPOINT_INTERVAL;
  return runEmu({
    elf: options.elf,
    harts: vcpus,
    ramMiB: options.ramMiB,
    input: options.input,
    capture: options.capture,
    timeoutSeconds: options.timeoutSeconds,
    checkpointInterval,
    session: {
      mode: 'record',
      path: options.logPath,
      imageHash: imageHash(image),
      imagePath: resolve(options.elf),
      crewGranularity: 0,
      configJson: JSON.stringify({ rrkit: 1 }),
    },
  });
}
