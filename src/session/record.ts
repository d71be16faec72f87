/**
 * Recording: run a guest with its real inputs (host clock, entropy, console input, timer
 * interrupts at host time) and log every value and interrupt at its exact landmark, on any
 * engine and any vCPU count. With several vCPUs, CREW page ownership orders their
 * shared-memory accesses and the log holds every ownership transfer, except among vCPUs
 * that share so much that they run one at a time, whose turn switches it holds instead
 * (src/smp/crew-options.ts, src/smp/serial-options.ts, docs/crew.md).
 */
import { RunFailure, type ConsoleInput, type Engine, type RunProgress, type RunResult } from '../engines/engine.js';
import { engineFor } from '../engines/index.js';
import { guestImage, type GuestImage } from '../guests/image.js';
import { CREW_DEFAULT_HOLD, checkCrewHold, crewGranularityFor } from '../smp/crew-options.js';
import { checkSerialOptions, type SerialOptions } from '../smp/serial-options.js';
import { LogDestination, type LogPlacement, type ReadPath } from './log-destination.js';
import { describeDisk } from './recorded-disk.js';

export interface RecordOptions {
  /** the guest ELF's path, or its image already read */
  elf: string | GuestImage;
  /** where the log goes (written beside it first: src/session/log-destination.ts) */
  logPath: string;
  /** replace an existing file at logPath with the new log, once it is complete */
  force?: boolean;
  /** files the recording reads besides the guest image (console input, a disk), which logPath must not name */
  reads?: readonly ReadPath[];
  /** default: the engine for the ELF's machine type */
  engine?: string;
  vcpus?: number;
  ramMiB?: number;
  input?: ConsoleInput;
  /** a checkpoint (register and memory hashes) every this many landmarks of vCPU 0; 0n: none; default: the engine's */
  checkpointInterval?: bigint;
  capture?: boolean | 'tagged';
  /** called about once a second while the guest runs */
  onProgress?: (sample: RunProgress) => void;
  timeoutSeconds?: number;
  /** bytes per CREW ownership page with several vCPUs (64 B .. 2 MiB, a power of two); default 4 KiB */
  crewGranularity?: number;
  /** instructions a vCPU keeps a page it gained before serving requests for it; default CREW_DEFAULT_HOLD */
  crewHold?: number;
  /** serialized mode with several vCPUs (defaults: SERIAL_DEFAULTS; `enterPerMillion: 0` turns it off) */
  serialize?: Partial<SerialOptions>;
  /** emu: host threads that run the vCPUs (default: the host's cores) */
  threads?: number;
  /** emu: detect busy-waits without the spin-wait hint (default true; timing only) */
  spinDetection?: boolean;
  /** zlib level for the log's chunks, 0 (stored) .. 9; default the writer's (the log bench compares them) */
  deflateLevel?: number;
  /**
   * sealed log chunks waiting to be written before the guest waits for the log's reader
   * (default the writer's, 32 MiB): a replica's engine keeps it small, so that a primary
   * that stops reading its log holds the guest back soon (flow control, docs/replication.md)
   */
  maxQueuedLogBytes?: number;
  /** a disk-image file for the board's block device (kvm); the bytes the guest reads from it are logged */
  disk?: string;
  /** with `disk`: log where the guest's disk reads came from, not their bytes (the replay reads its own copy of the image) */
  diskShared?: boolean;
  /**
   * keep wall-clock samples in the log for `rrkit log timeline --wall`: each running vCPU's
   * landmark and host time every this many µs, and every stall of 2 µs or more (default none)
   */
  wallSampleUs?: number;
}

/** The shortest and longest period between wall-clock samples, in µs. */
export const WALL_SAMPLE_US = { min: 10, max: 60_000_000, default: 1000 } as const;

/** A recording's result, and where its log is. */
export interface RecordResult extends RunResult {
  log: LogPlacement;
}

/**
 * Records; the log is in place when this resolves. When the run fails (a guest fault, the
 * timeout, an interruption), the error is a RunFailure whose `incompleteLog` says where the
 * incomplete log was kept.
 */
export async function record(options: RecordOptions): Promise<RecordResult> {
  const vcpus = options.vcpus ?? 1;
  const crewGranularity = crewGranularityFor(vcpus, options.crewGranularity);
  const crewHold = checkCrewHold(options.crewHold ?? CREW_DEFAULT_HOLD);
  const serialize = checkSerialOptions(options.serialize);
  const image = await guestImage(options.elf);
  const engine = engineFor(image, options.engine);
  // A hold counts instructions; an engine whose landmarks are exits transfers at its next one.
  const holds = engine.landmarkUnit === 'instructions';
  if (!holds && options.crewHold !== undefined) {
    throw new RangeError(`--crew-hold is for engines that count instructions: the ${engine.name} engine gives a page up at the holder's next ${engine.landmarkUnit.replace(/s$/, '')}`);
  }
  // Serialized mode counts turns in instructions too (native/crew/serializer.h).
  if (!holds && options.serialize !== undefined && Object.keys(options.serialize).length > 0) {
    throw new RangeError(`--serialize-above and --turn-quantum are for engines that count instructions, not the ${engine.name} engine`);
  }
  if (options.diskShared === true && options.disk === undefined) throw new TypeError('diskShared needs a disk');
  // The disk's size (and, shared, which image by SHA-256) go into the header for replay.
  const disk = options.disk === undefined ? undefined : { ...(await describeDisk(options.disk)), shared: options.diskShared ?? false };
  const wallSampleUs = options.wallSampleUs;
  if (wallSampleUs !== undefined) {
    if (!Number.isInteger(wallSampleUs) || wallSampleUs < WALL_SAMPLE_US.min || wallSampleUs > WALL_SAMPLE_US.max) {
      throw new RangeError(`wall-clock samples every ${wallSampleUs} µs: give ${WALL_SAMPLE_US.min}..${WALL_SAMPLE_US.max} µs`);
    }
  }
  const destination = LogDestination.prepare(options.logPath, {
    force: options.force ?? false,
    reads: [
      { role: 'the guest image', path: image.path },
      ...(disk === undefined ? [] : [{ role: 'the disk image (--disk)', path: disk.path }]),
      ...(options.reads ?? []),
    ],
  });
  let result: RunResult;
  try {
    result = await runRecording(engine, image, destination.partialPath, options, { vcpus, crewGranularity, crewHold, serialize, disk });
  } catch (error) {
    const kept = destination.settle(false);
    if (error instanceof RunFailure && kept !== undefined) error.incompleteLog = kept.path;
    throw error;
  }
  // The trailer is written when the guest exits; any other end leaves the log incomplete.
  const log = destination.settle(result.outcome === 'exited');
  if (log === undefined) throw new Error(`the engine wrote no log to ${destination.partialPath}`);
  return { ...result, log };
}

interface RecordingFacts {
  vcpus: number;
  crewGranularity: number;
  crewHold: number;
  serialize: SerialOptions;
  disk: (Awaited<ReturnType<typeof describeDisk>> & { shared: boolean }) | undefined;
}

function runRecording(engine: Engine, image: GuestImage, logPath: string, options: RecordOptions, facts: RecordingFacts): Promise<RunResult> {
  const { vcpus, crewGranularity, crewHold, serialize, disk } = facts;
  const wallSampleUs = options.wallSampleUs;
  const config = {
    rrkit: 1,
    ...(vcpus > 1 && engine.landmarkUnit === 'instructions' ? { crewHold, serialize } : {}),
    ...(disk === undefined ? {} : { disk }),
    ...(wallSampleUs === undefined ? {} : { wallSampleUs }),
  };
  return engine.run(image, {
    vcpus,
    ramMiB: options.ramMiB,
    input: options.input,
    capture: options.capture,
    timeoutSeconds: options.timeoutSeconds,
    onProgress: options.onProgress,
    threads: options.threads,
    spinDetection: options.spinDetection,
    checkpointInterval: options.checkpointInterval ?? engine.defaultCheckpointInterval,
    disk: disk === undefined ? undefined : { path: disk.path, sectors: disk.sectors, shared: disk.shared },
    session: {
      mode: 'record',
      path: logPath,
      // The bytes the engine runs are the bytes hashed here.
      imageHash: image.sha256,
      imagePath: image.path,
      crewGranularity,
      crewHold,
      serialize,
      ...(wallSampleUs === undefined ? {} : { wallSampleUs }),
      // crewHold and serialize for provenance: replay does not need them (it follows the logged edges and turns).
      configJson: JSON.stringify(config),
      ...(options.deflateLevel === undefined ? {} : { deflateLevel: options.deflateLevel }),
      ...(options.maxQueuedLogBytes === undefined ? {} : { maxQueuedLogBytes: options.maxQueuedLogBytes }),
    },
  });
}
