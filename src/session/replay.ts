/**
 * Replay: re-execute a recorded guest from the same image, on the engine the log names,
 * feeding it the logged values at the logged landmarks, reading nothing from the world, and
 * comparing every checkpoint and the final state with the recording. The outcome is data
 * (rr's replay_step): the guest exited as recorded, or it diverged and the report says where.
 *
 * The log is read once: its header here (to pick the engine and check the image), then the
 * engine streams its chunks as the replay reaches them and reports what it read and checked
 * (NativeReplayReport): the checkpoints compared, the last that matched, the chunks, and
 * where a damaged chunk was met.
 */
import { existsSync } from 'node:fs';
import { divergenceFromNative, type DivergenceReport } from '../analysis/divergence.js';
import { LogFormatError, type LogErrorCode } from '../analysis/log-error.js';
import { readLogHeaderFile, type LogHeader } from '../analysis/log-reader.js';
import { EngineFailure, type Engine, type RunProgress, type RunResult } from '../engines/engine.js';
import { engineNamed } from '../engines/index.js';
import { readGuestImage, type GuestImage } from '../guests/image.js';
import type { NativeReplayReport } from '../native.js';
import { CREW_DEFAULT_HOLD } from '../smp/crew-options.js';
import { recordedDisk, sharedDiskForReplay } from './recorded-disk.js';

export interface ReplayOptions {
  logPath: string;
  /** the guest ELF; default: the path recorded in the log's header */
  elf?: string;
  capture?: boolean;
  timeoutSeconds?: number;
  /** called about every `progressIntervalMs` (default 1000) while the guest runs */
  onProgress?: (sample: RunProgress) => void;
  progressIntervalMs?: number;
  /**
   * Follow a log a recording is still writing: wait for new chunks until the trailer, giving
   * up after `idleSeconds` without a new byte (0: never). The file may not exist yet.
   */
  follow?: { idleSeconds: number };
  /**
   * At the end of an incomplete log, go on live from exactly the replayed state (every vCPU
   * paused at its last landmark in the log, then devices read the world), recording into
   * `logPath` if given: a log that replays from reset on its own (the replayed records,
   * then the live ones). A replica's switchover.
   */
  thenRun?: { logPath?: string };
  /** a log recorded with --disk-shared: the disk image (default: the path in the log) */
  disk?: string;
}

/** What every outcome carries: the log's header, the engine it ran on, its result and what it read of the log. */
interface ReplayFacts {
  header: LogHeader;
  engine: Engine;
  result: RunResult;
  log: NativeReplayReport;
}

export type ReplayOutcome =
  | ({ kind: 'exited'; exitCode: number } & ReplayFacts)
  /**
   * The recording ended without a clean close: replayed as far as the last sealed chunk
   * carries it. `endedAt` is where the guest asked for more than the log holds (absent when
   * the guest ran to its exit on what there was).
   */
  | ({ kind: 'incomplete'; endedAt?: DivergenceReport } & ReplayFacts)
  | ({ kind: 'diverged'; report: DivergenceReport } & ReplayFacts)
  /** thenRun: replayed to the end of the log, then ran live from `liveFrom` (each vCPU's landmark) to the guest's exit */
  | ({ kind: 'went-live'; exitCode: number; liveFrom: bigint[] } & ReplayFacts);

/** Throws a one-line error when `image` is not the one the log was recorded from. */
export function checkImageMatchesLog(image: GuestImage, loggedHashHex: string): void {
  const actual = image.sha256.toString('hex');
  if (actual !== loggedHashHex) {
    throw new Error(
      `${image.path} is not the guest image this log was recorded from (log: sha256 ${loggedHashHex.slice(0, 16)}…, ` +
        `file: sha256 ${actual.slice(0, 16)}…); give the right ELF with --guest`,
    );
  }
}

/** The header; when following, waits for the recorder to create the file and write it. */
async function headerOf(options: ReplayOptions): Promise<LogHeader> {
  if (options.follow === undefined) return readLogHeaderFile(options.logPath);
  const deadline = options.follow.idleSeconds > 0 ? Date.now() + options.follow.idleSeconds * 1000 : Infinity;
  for (;;) {
    try {
      return readLogHeaderFile(options.logPath);
    } catch (error) {
      const notYet = error instanceof LogFormatError && (error.code === 'io' || error.code === 'empty' || error.code === 'truncated');
      if (!notYet || Date.now() > deadline) throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export async function replay(options: ReplayOptions): Promise<ReplayOutcome> {
  // The header only: the engine reads, checks and decodes every chunk as the replay reaches it.
  const header = await headerOf(options);
  let engine: Engine;
  try {
    engine = engineNamed(header.engine);
  } catch (error) {
    throw new Error(`${options.logPath} was recorded on the ${header.engine} engine: ${(error as Error).message}`);
  }
  const elf = options.elf ?? header.imagePath;
  if (options.elf === undefined && !existsSync(elf)) {
    throw new Error(`the guest image recorded in the log, ${elf}, is gone; give it with --guest`);
  }
  const image = await readGuestImage(elf);
  checkImageMatchesLog(image, header.imageHash);
  // A log that holds the disk's bytes needs only the disk's size; a --disk-shared one
  // needs the very image it was recorded with.
  const disk = recordedDisk(header.configJson);
  const diskPath = disk?.shared === true ? await sharedDiskForReplay(disk, options.disk) : null;

  const result = await engine.run(image, {
    vcpus: header.vcpus,
    ramMiB: header.ramMib,
    // Live after the log: checkpoints as the recording had them (replay takes the log's).
    checkpointInterval: options.thenRun === undefined ? undefined : header.checkpointInterval,
    capture: options.capture,
    timeoutSeconds: options.timeoutSeconds,
    onProgress: options.onProgress,
    progressIntervalMs: options.progressIntervalMs,
    session: {
      mode: 'replay',
      path: options.logPath,
      followMs: options.follow === undefined ? -1 : options.follow.idleSeconds * 1000,
      thenRun: options.thenRun === undefined ? null : { path: options.thenRun.logPath ?? '', crewHold: CREW_DEFAULT_HOLD },
    },
    disk: disk === undefined ? undefined : { path: diskPath, sectors: disk.sectors, shared: false },
  });
  const log = result.replay;
  if (log === undefined) throw new EngineFailure('a replay without a report of what it read', result);
  const facts: ReplayFacts = { header, engine, result, log };
  if (result.outcome === 'log-damaged') {
    // Met where the replay reached it: the same error as any reader gives for that chunk.
    if (log.damage === undefined) throw new EngineFailure(result.error, result);
    throw new LogFormatError(log.damage.code as LogErrorCode, log.damage.chunk, log.damage.offset, log.damage.detail);
  }
  if (result.outcome === 'diverged') {
    if (result.divergence === undefined) throw new EngineFailure(`a divergence without a report: ${result.error}`, result);
    const report = divergenceFromNative(result.divergence, result.error);
    // Ran out of log: the guest asked for more than an incomplete log holds.
    if (log.ended && !log.complete) return { kind: 'incomplete', endedAt: report, ...facts };
    if (log.lastMatchingCheckpoint !== undefined) report.lastMatchingCheckpoint = [...log.lastMatchingCheckpoint];
    return { kind: 'diverged', report, ...facts };
  }
  if (log.liveFrom !== undefined) return { kind: 'went-live', exitCode: result.exitCode, liveFrom: [...log.liveFrom], ...facts };
  if (!log.complete) return { kind: 'incomplete', ...facts };
  return { kind: 'exited', exitCode: result.exitCode, ...facts };
}
