/**
 * Recording: run a guest with its real inputs (host clock, entropy, console input, timer
 * interrupts at host time) and log every value and interrupt at its exact landmark. With
 * several vCPUs, CREW page ownership orders their shared-memory accesses and the log holds
 * every ownership transfer (src/smp/crew-options.ts, docs/crew.md).
 */
import { resolve } from 'node:path';
import { EMU_MAX_HARTS, runEmu, type EmuInput, type EmuProgress, type EmuRunResult } from '../engines/emu.js';
import { runKvm, type KvmInput, type KvmProgress, type KvmRunResult } from '../engines/kvm.js';
import { describeDisk } from './kvm-disk.js';
import { CREW_DEFAULT_HOLD, checkCrewHold, crewGranularityFor } from '../smp/crew-options.js';
import { imageHash, readGuestImage } from './guest-image.js';

/** Checkpoint interval when none is given: a few per second of guest time at emu speed. */
export const DEFAULT_CHECKPOINT_INTERVAL = 50_000_000n;
/**
 * kvm's checkpoint interval when none is given, in exits: a checkpoint costs a dirty-log
 * fetch and a rehash of the pages written since the last (docs/status.md); exits come
 * every 10–60 µs in exit-heavy guests, so this is a few per second there.
 */
export const DEFAULT_KVM_CHECKPOINT_INTERVAL = 5_000n;

export interface RecordOptions {
  elf: string;
  logPath: string;
  vcpus?: number;
  ramMiB?: number;
  input?: EmuInput;
  /** a checkpoint (register and memory hashes) every this many instructions of vCPU 0; 0n: none */
  checkpointInterval?: bigint;
  capture?: boolean;
  /** called about once a second while the guest runs */
  onProgress?: (sample: EmuProgress) => void;
  timeoutSeconds?: number;
  /** bytes per CREW ownership page with several vCPUs (64 B .. 2 MiB, a power of two); default 4 KiB */
  crewGranularity?: number;
  /** instructions a vCPU keeps a page it gained before serving requests for it; default CREW_DEFAULT_HOLD */
  crewHold?: number;
}

export async function record(options: RecordOptions): Promise<EmuRunResult> {
  const vcpus = options.vcpus ?? 1;
  if (!Number.isInteger(vcpus) || vcpus < 1 || vcpus > EMU_MAX_HARTS) {
    throw new RangeError(`vcpus must be an integer from 1 to ${EMU_MAX_HARTS}, not ${vcpus}`);
  }
  const crewGranularity = crewGranularityFor(vcpus, options.crewGranularity);
  const crewHold = checkCrewHold(options.crewHold ?? CREW_DEFAULT_HOLD);
  const image = await readGuestImage(options.elf);
  const checkpointInterval = options.checkpointInterval ?? DEFAULT_CHECKPOINT_INTERVAL;
  return runEmu({
    elf: options.elf,
    harts: vcpus,
    ramMiB: options.ramMiB,
    input: options.input,
    capture: options.capture,
    timeoutSeconds: options.timeoutSeconds,
    onProgress: options.onProgress,
    checkpointInterval,
    session: {
      mode: 'record',
      path: options.logPath,
      imageHash: imageHash(image),
      imagePath: resolve(options.elf),
      crewGranularity,
      crewHold,
      // For provenance: replay does not need it (it follows the logged edges).
      configJson: JSON.stringify(vcpus > 1 ? { rrkit: 1, crewHold } : { rrkit: 1 }),
    },
  });
}

export interface KvmRecordOptions {
  elf: string;
  logPath: string;
  ramMiB?: number;
  input?: KvmInput;
  /** a checkpoint every this many exits; 0n: none; default DEFAULT_KVM_CHECKPOINT_INTERVAL */
  checkpointInterval?: bigint;
  capture?: boolean;
  onProgress?: (sample: KvmProgress) => void;
  timeoutSeconds?: number;
  /** a disk-image file for the board's block device */
  disk?: string;
  /** leave the bytes read from the disk out of the log: the replay reads its own copy of the image */
  diskShared?: boolean;
}

/** Records a guest on the kvm engine (one vCPU; landmarks are VM exits). */
export async function recordKvm(options: KvmRecordOptions): Promise<KvmRunResult> {
  const image = await readGuestImage(options.elf);
  if (options.diskShared === true && options.disk === undefined) throw new TypeError('diskShared needs a disk');
  const disk = options.disk === undefined ? undefined : { ...(await describeDisk(options.disk)), shared: options.diskShared ?? false };
  const config = disk === undefined ? { rrkit: 1 } : { rrkit: 1, disk: { ...disk, path: resolve(disk.path) } };
  return runKvm({
    elf: options.elf,
    ramMiB: options.ramMiB,
    input: options.input,
    capture: options.capture,
    timeoutSeconds: options.timeoutSeconds,
    onProgress: options.onProgress,
    checkpointInterval: options.checkpointInterval ?? DEFAULT_KVM_CHECKPOINT_INTERVAL,
    disk: disk === undefined ? undefined : { path: disk.path, sectors: disk.sectors, shared: disk.shared },
    session: {
      mode: 'record',
      path: options.logPath,
      imageHash: imageHash(image),
      imagePath: resolve(options.elf),
      configJson: JSON.stringify(config),
    },
  });
}
