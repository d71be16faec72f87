/**
 * The whole native surface of rrkit, declared once. Nothing else imports the addon.
 *
 * The addon is built by node-gyp into build/Release (or build/Debug for a debug build).
 * Each native module registers its exports; `modules` lists the ones compiled in.
 */
import { createRequire } from 'node:module';
import type { LogHeader } from './analysis/log-reader.js';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root (this file lives in src/). */
export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');

// --- what every engine's run returns (native/emu/, native/kvm/) -----------------------

/** How a run ended. */
export type NativeOutcome =
  /** the guest asked to stop (emu: the test finisher; kvm: the exit register; exitCode is its code) */
  | 'exited'
  /** every vCPU reached the landmark it was asked to stop at */
  | 'reached-counts'
  /**
   * a guest error the guest did not handle; `error` says which — emu: illegal instruction,
   * access fault with no trap handler, trap loop (vCPU, pc, instruction, cause); kvm: triple
   * fault, emulation failure, an access to no RAM or register, an unhandled exit (with the registers)
   */
  | 'fault'
  /** the timeout passed before the guest stopped (kvm kicks a vCPU that makes no exit; `error` has its registers) */
  | 'timeout'
  /** rrkit itself failed */
  | 'host-error'
  /** replay: the guest did not follow the log; `divergence` says where */
  | 'diverged'
  /** interruptRuns() stopped it (SIGINT, SIGTERM); a recording's log is sealed and incomplete */
  | 'interrupted'
  /** replay: the log is damaged where the replay reached it; `replay.damage` says where */
  | 'log-damaged';

/** The first place a replay differed from its recording (rr's compare_with, as data). */
export interface NativeDivergence {
  readonly vcpu: number;
  /** the vCPU's landmark (emu: instructions retired before the one that diverged) */
  readonly count: bigint;
  /** what differed: "register hash", "memory hash", "input kind", "console output", ... */
  readonly what: string;
  readonly expected: string;
  readonly actual: string;
}

/** One vCPU at the end of a run. */
export interface NativeVcpuFinal {
  /** its final landmark: retired instructions on emu, synchronous exits on kvm */
  readonly landmark: bigint;
  readonly pc: bigint;
  /** hash of the architectural registers (emu: x1..x31, pc and the machine-mode CSRs) */
  readonly registerHash: bigint;
}

/** Record to, or replay from, a log (built by src/session/). */
export type NativeSession =
  | {
      mode: 'record';
      path: string;
      /** SHA-256 of the image bytes passed to the same call */
      imageHash: Buffer;
      imagePath: string;
      /** bytes per CREW page; 0 when CREW is off */
      crewGranularity: number;
      /** instructions a vCPU keeps a page it gained before serving requests for it (used with several vCPUs) */
      crewHold: number;
      /** serialized mode (src/smp/serial-options.ts; used with several vCPUs) */
      serialize: { enterPerMillion: number; window: number; quantum: number; probe: number; idleTurns: number; sharePages: boolean };
      /** free-form engine configuration recorded in the header */
      configJson: string;
      /** zlib level for the log's chunks, 0 (stored) .. 9; default the writer's (6) */
      deflateLevel?: number;
      /** sealed chunks waiting to be written before the recording waits for its sink; default the writer's (32 MiB) */
      maxQueuedLogBytes?: number;
      /** keep wall-clock samples every this many µs of a running vCPU, and at its stalls (10..60e6; absent: none) */
      wallSampleUs?: number;
    }
  | {
      mode: 'replay';
      path: string;
      /**
       * -1: the file as it is. Otherwise follow a file a recording is still writing, waiting
       * for new chunks until the trailer, and giving up after this many ms without a new
       * byte (0: never).
       */
      followMs: number;
      /** a pipe or socket the log arrives on, read to the writer's close (a replica's engine); path and followMs are then unused */
      streamFd?: number;
      /** kvm: a shuffled replay's seed (RunOptions.shuffleSeed; emu takes it in its schedule) */
      shuffleSeed?: number;
      /**
       * null: stop at the end of the log. Otherwise go on live from there (every vCPU
       * paused at its last landmark in the log, then the devices switch to the world),
       * recording into `path` unless it is '' (a log holding the replayed one's records,
       * then the live run's; `crewHold` and `serialize` for its CREW recording on several
       * vCPUs: the serialized groups the log left open end at the switch, and the live part
       * forms its own as `serialize` says; absent, it never serializes).
       */
      thenRun: { path: string; crewHold: number; serialize?: { enterPerMillion: number; window: number; quantum: number; probe: number; idleTurns: number; sharePages: boolean }; maxQueuedLogBytes?: number } | null;
      /**
       * the stream holds the header, then the log's chunks from `chunk` on (a backup that
       * rejoined from a state image); `records`: how many the chunks before it hold
       */
      streamStart?: { chunk: number; records: number };
      /** emu, with resumeFrom or saveImage, or for emuRequestStateImage: the guest ELF's SHA-256 (a state image names its guest) */
      imageHash?: Buffer;
      /** emu: start from this state image (a file), replaying the log from its cut on (docs/replication.md, "State images") */
      resumeFrom?: string;
      /** emu: write a state image to `path` at the first cut whose ordinal is at least `fromCheckpoint`, outside serialized mode */
      saveImage?: { path: string; fromCheckpoint: number };
    };

/** What emuRequestStateImage's callback gets. */
export type NativeImageTaken =
  | { readonly records: bigint; readonly checkpoint: number; readonly consoleOffset: bigint; readonly counts: readonly bigint[]; readonly error?: undefined }
  | { readonly error: string };

/** What a state image holds (emuStateImageInfo). */
export interface NativeStateImageInfo {
  /** the checkpoints of the log up to and including the image's cut */
  readonly checkpoint: number;
  /** each vCPU's landmark at the cut */
  readonly counts: readonly bigint[];
  /** where in the guest's console stream the restored machine's output starts */
  readonly consoleOffset: bigint;
  readonly vcpus: number;
  readonly ramBytes: number;
  /** RAM pages the image holds (those with data) */
  readonly pages: number;
  readonly imageSha256: Buffer;
}

/** What a replay read and checked, reported by the native run so that nothing reads the log again. */
export interface NativeReplayReport {
  /** chunks read and decoded */
  readonly chunks: number;
  readonly records: number;
  /** the whole log was read */
  readonly ended: boolean;
  /** ... and it ended with its trailer */
  readonly complete: boolean;
  readonly checkpointsCompared: number;
  /** each vCPU's count at the last checkpoint that matched */
  readonly lastMatchingCheckpoint?: readonly bigint[];
  /** replay then live: each vCPU's landmark where it went live (its last in the log), if it did */
  readonly liveFrom?: readonly bigint[];
  /** where the replay met a damaged log: as LogFormatError */
  readonly damage?: { readonly code: string; readonly chunk: number; readonly offset: number; readonly detail: string };
}

/** A sample of a run in progress. */
export interface NativeProgress {
  /** landmarks passed by all vCPUs so far (each as of its last pass through its run loop) */
  readonly landmarks: bigint;
  /** since the guest started */
  readonly seconds: number;
  /** replay then live: the machine has gone live */
  readonly live?: boolean;
}

/** What an engine's run resolves with. */
export interface NativeRunResult {
  readonly outcome: NativeOutcome;
  readonly exitCode: number;
  /** the vCPU that asked to stop, and its landmark then */
  readonly exitVcpu: number;
  readonly exitLandmark: bigint;
  /** one line when outcome is 'fault', 'timeout', 'host-error' or 'diverged'; empty otherwise */
  readonly error: string;
  /** present when outcome is 'diverged' */
  readonly divergence?: NativeDivergence;
  readonly vcpus: readonly NativeVcpuFinal[];
  /** hash of all guest RAM at the end */
  readonly memoryHash: bigint;
  /** hash of every vCPU's registers and all RAM: equal states give equal hashes */
  readonly stateHash: bigint;
  readonly wallSeconds: number;
  /** replay: whether the log had its trailer (a clean close); true for other runs */
  readonly logComplete: boolean;
  /** asynchronous interrupts the vCPUs took */
  readonly interrupts: number;
  /** replay only */
  readonly replay?: NativeReplayReport;
  /** the console output, when `capture` was set (otherwise it went to stdout) */
  readonly console: Buffer;
}

/**
 * What every native function throws: a JavaScript Error (TypeError/RangeError for a bad
 * argument), never a crash, with a `code` (native/addon/js_error.h): a log error's code
 * ('bad-crc', ...) with `chunk`, `offset` and `detail`; 'bad-image'; 'diverged' with
 * `divergence`; 'replay-stalled'; 'bad-argument'; 'out-of-memory'; 'system' with `errno`;
 * 'internal'. src/engines/native-error.ts maps them to rrkit's error types.
 */
export interface NativeError extends Error {
  readonly code: string;
  readonly chunk?: number;
  readonly offset?: number;
  readonly detail?: string;
  readonly divergence?: NativeDivergence;
  readonly errno?: number;
}

// --- kvm: x86_64 guests on /dev/kvm (native/kvm/) ----------------------------------------

/**
 * The disk behind the kvm board's block device: a file (running, recording, or replaying a
 * log that left the disk's bytes out), or only its size (replaying a log that holds them).
 */
export interface NativeDisk {
  path: string | null;
  /** size in 512-byte sectors when `path` is null (otherwise the file's) */
  sectors: number;
  /** recording: leave the bytes the disk writes into guest memory out of the log (the replay reads its own copy of the image) */
  shared: boolean;
}

/** What `kvmRun` resolves with: every engine's result, and what the board's devices did. */
export interface KvmNativeResult extends NativeRunResult {
  /** interrupts injected */
  readonly interrupts: number;
  /** running and recording: for each interrupt, ns from when it fell due to its delivery at an exit */
  readonly interruptDelaysNs: readonly number[];
  /** bytes the disk wrote into guest memory */
  readonly dmaBytes: number;
  /** from the first KVM_RUN to the exit that stopped the guest: its own time, without the VMM's set-up and final hashes */
  readonly guestSeconds: number;
  /** several vCPUs: stops on pages a vCPU had no right to (CREW faults, recording and replay), over all vCPUs */
  readonly crewFaults: number;
}

/** Whether /dev/kvm can be used here; if not, `reason` is one line saying why and what to do. */
export interface KvmProbeResult {
  readonly available: boolean;
  readonly reason: string;
  /** KVM_CAP_SYNC_REGS (registers and event injection without ioctls at each exit) */
  readonly syncRegs: boolean;
}

/** The functions the addon exports. Sections are added by each native module. */
export interface NativeAddon {
  /** Names of the native modules compiled into this build. */
  readonly modules: readonly string[];

  /** emu: the most harts its machine has (native/emu/board.h's kMaxHarts; src/engines/emu.ts validates against it). */
  readonly emuMaxHarts: number;
  /** The host cores this process may run on: emu's default number of threads for its vCPUs. */
  readonly hostCores: number;

  /** emu: what the state image at `path` holds; throws one line ('bad-state-image') for a damaged or foreign file. */
  emuStateImageInfo(path: string): NativeStateImageInfo;
  /**
   * emu: the machine running in this process (a replica's engine) writes a state image to
   * `path` at its next cut outside serialized mode, sealing its log's open chunk right after
   * the cut's checkpoint record; `callback` then gets the log's records up to and including
   * that checkpoint, or an error. False when no machine runs. The run's session must carry
   * `imageHash`.
   */
  emuRequestStateImage(path: string, callback: (taken: NativeImageTaken) => void): boolean;

  /**
   * emu: loads an rv64 ELF into a fresh machine and runs it off the JavaScript thread, its
   * harts run M:N by a pool of `schedule.threads` host threads: a plain run, a recording or
   * a replay, as `session` says. Throws synchronously (a NativeError, one line) when the ELF
   * is not a loadable rv64 executable ('bad-image'), the log cannot be created ('system'), or
   * the log to replay is bad (its code, chunk and byte offset); a bad argument is a TypeError
   * or RangeError.
   * Arguments are positional and checked only for safety: call it through src/engines/emu.ts.
   *
   * @param image the ELF file's bytes (for a recording: the bytes `session.imageHash` hashes)
   * @param imageName used in error messages (the path)
   * @param harts 1..emuMaxHarts
   * @param ramBytes guest RAM size, a multiple of 4 KiB
   * @param timeoutMs 0 for none
   * @param checkpointInterval a consistent cut every this many instructions of hart 0 (0n: never)
   * @param stopAt per-hart instruction counts (landmarks) to stop exactly at ([] = run until exit)
   * @param input console input: bytes, a file descriptor polled without blocking, or null
   * @param capture collect console output into the result instead of writing it to stdout;
   *   'tagged': write it to stdout in frames "u64 position, u32 length, bytes" (little-endian),
   *   the position being the log's record count at the flush (a replica's engine, src/replication/)
   * @param session null for a plain run; a recording's log path and header fields; or the
   *   log to replay (whose header the caller has already checked against the image)
   * @param progress null, or a callback called on the JavaScript thread every intervalMs
   *   while the guest runs
   * @param schedule timing only: `threads` host threads run the harts (0: the host's cores;
   *   at most `harts` are used), a hart gives up its thread after `sliceInstructions` when
   *   another waits for one, `spinDetection` treats busy-waits as spin-wait hints, and a
   *   nonzero `shuffleSeed` shuffles the schedule (native/machine/schedule_shuffle.h)
   */
  emuRun(
    image: Buffer,
    imageName: string,
    harts: number,
    ramBytes: number,
    timeoutMs: number,
    checkpointInterval: bigint,
    stopAt: readonly bigint[],
    input: Buffer | number | null,
    capture: boolean | 'tagged',
    session: NativeSession | null,
    progress: { callback: (sample: NativeProgress) => void; intervalMs: number } | null,
    schedule: { threads: number; sliceInstructions: number; spinDetection: boolean; shuffleSeed: number },
  ): Promise<NativeRunResult>;

  /**
   * kvm: loads an x86_64 ELF into a fresh VM (one vCPU) and runs it off the JavaScript
   * thread: a plain run, a recording or a replay, as `session` says. Landmarks are VM exits
   * (and, with several vCPUs, CREW faults: docs/kvm-smp.md).
   * Throws synchronously (Error, one line) when /dev/kvm cannot be used (naming the cause),
   * the ELF is not an x86_64 rrkit guest, the disk image cannot be opened, or the log is bad.
   * Arguments are positional and unchecked: call it through src/engines/kvm.ts.
   *
   * @param checkpointInterval recording: a checkpoint every this many exits (0n: none)
   * @param vcpus 1..8, each on a VM of its own over one RAM
   * @param session as for emuRun (crewGranularity 4 KiB..1 MiB with several vCPUs; crewHold is ignored)
   * @param disk null for a board without a disk
   */
  kvmRun(
    image: Buffer,
    imageName: string,
    vcpus: number,
    ramBytes: number,
    timeoutMs: number,
    checkpointInterval: bigint,
    input: Buffer | number | null,
    capture: boolean | 'tagged',
    session: NativeSession | null,
    progress: { callback: (sample: NativeProgress) => void; intervalMs: number } | null,
    disk: NativeDisk | null,
  ): Promise<KvmNativeResult>;
  /** kvm: opens `path` (default /dev/kvm) and reports whether it can run guests. Never throws. */
  kvmProbe(path?: string): KvmProbeResult;

  /**
   * Stops every run in progress in this process (SIGINT, SIGTERM): each resolves with
   * outcome 'interrupted', a recording's log sealed and incomplete. Returns how many runs
   * there were.
   */
  interruptRuns(): number;

  // --- log (native/addon/log_binding.cc, native/replay/) ---

  /**
   * Writes a log with the C++ writer from a description of its records (tests, fixtures).
   * Synchronous. Throws TypeError for a malformed description, Error for an invalid record
   * or an I/O failure.
   */
  logWrite(path: string, description: NativeLogDescription): void;
  /**
   * Reads and validates a log with the C++ reader. A bad log throws an Error with `code`,
   * `chunk` and `offset` as in LogFormatError (src/analysis/log-error.ts).
   */
  logRead(bytes: Uint8Array): NativeLogContents;

  // --- micro benchmarks (native/addon/bench_binding.cc, native/bench/), for bench/micro.ts only ---

  /** Appends `batch` clock input records to a log writer whose chunks go nowhere. */
  benchLogAppend(batch: number): NativeBatchTiming;
  /** `batch` CREW permission checks that pass (the fast path before every emu memory access). */
  benchPermissionCheck(batch: number): NativeBatchTiming;
  /** emu's state hash of `batch` MiB of RAM full of data; operations are MiB. */
  benchEmuStateHash(batch: number): NativeBatchTiming;
  /** kvm's state hash, from scratch, of `batch` MiB of RAM full of data; operations are MiB. */
  benchKvmStateHash(batch: number): NativeBatchTiming;
  /** Two threads pass one CREW page back and forth at least `batch` times; operations are round trips. */
  benchOwnershipRoundTrip(batch: number): NativeBatchTiming;
}

/** A batch of a micro benchmark, timed in C++: its nanoseconds and how many operations it did. */
export interface NativeBatchTiming {
  readonly ns: number;
  readonly operations: number;
}

/** The header fields of a log: the same shape as the TypeScript reader's. */
export type NativeLogHeader = LogHeader;

export interface NativeLogDescription {
  header: NativeLogHeader;
  /** Records as src/analysis/log-records.ts's LogRecord (numbers accepted for bigints). */
  records: readonly object[];
  /** Write the trailer (false leaves the log incomplete). */
  close: boolean;
  /** Seal a chunk when its payload reaches this many bytes. */
  maxChunkBytes: number;
  /** zlib level for the chunks, 0 (stored) .. 9; default the writer's */
  deflateLevel?: number;
}

export interface NativeLogContents {
  header: NativeLogHeader;
  records: object[];
  complete: boolean;
  chunks: number;
}

function loadAddon(): NativeAddon {
  const require = createRequire(import.meta.url);
  const candidates = ['build/Release/rrkit.node', 'build/Debug/rrkit.node'].map((p) => join(repoRoot, p));
  const found = candidates.find((p) => existsSync(p));
  if (found === undefined) {
    throw new Error(`rrkit's native addon is not built (looked for ${candidates.join(', ')}); run ./setup.sh or npm ci`);
  }
  return require(found) as NativeAddon;
}

let cached: NativeAddon | undefined;

/** The loaded addon (loaded on first use, so that commands that do not need it start without it). */
export function native(): NativeAddon {
  cached ??= loadAddon();
  return cached;
}
