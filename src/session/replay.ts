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
import { closeSync, existsSync, realpathSync, statSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { divergenceFromNative, type DivergenceReport } from '../analysis/divergence.js';
import { LogFormatError, type LogErrorCode } from '../analysis/log-error.js';
import { readLogHeaderFile, type LogHeader } from '../analysis/log-reader.js';
import { EngineFailure, type ConsoleInput, type Engine, type RunProgress, type RunResult } from '../engines/engine.js';
import { engineNamed } from '../engines/index.js';
import { HEADER_CHUNK, UnreplayableLog } from '../analysis/log-error.js';
import { FileRefused, openRegularFile } from '../files/regular-file.js';
import { printable } from '../files/printable.js';
import { GuestImageError, readGuestImage, type GuestImage } from '../guests/image.js';
import type { NativeReplayReport } from '../native.js';
import { CREW_DEFAULT_HOLD } from '../smp/crew-options.js';
import { serialOptionsOfLog } from '../smp/serial-options.js';
import { LogDestination, type LogPlacement } from './log-destination.js';
import { StateImageDestinationRefused, StateImageError, stateImageInfo, type StateImageInfo } from './state-image.js';
import { recordedDisk, sharedDiskForReplay } from './recorded-disk.js';

export interface ReplayOptions {
  logPath: string;
  /** the guest ELF; default: the path recorded in the log's header */
  elf?: string;
  capture?: boolean | 'tagged';
  timeoutSeconds?: number;
  /** console input for the live run after the log (thenRun); the replay takes the log's */
  input?: ConsoleInput;
  /**
   * The log arrives on this pipe or socket instead of a file (a replica's engine): read to
   * the writer's close; `header` is its header, already received (logPath names it in messages).
   */
  stream?: {
    fd: number;
    header: LogHeader;
    /** the stream holds the header, then the chunks from `chunk` on, whose predecessors hold `records` (with resumeFrom: a backup rejoining from a state image) */
    start?: { chunk: number; records: bigint };
  };
  /** called about every `progressIntervalMs` (default 1000) while the guest runs */
  onProgress?: (sample: RunProgress) => void;
  progressIntervalMs?: number;
  /** emu: host threads that run the vCPUs (default: the host's cores); the replay follows the log whatever it is */
  threads?: number;
  /** emu: detect busy-waits without the spin-wait hint (default true); the replay follows the log whatever it is */
  spinDetection?: boolean;
  /** shuffle the host schedule (nonzero seed; RunOptions.shuffleSeed); the replay must follow the log whatever it is */
  shuffleSeed?: number;
  /**
   * Follow a log a recording is still writing: wait for new chunks until the trailer, giving
   * up after `idleSeconds` without a new byte (0: never). The file may not exist yet.
   */
  follow?: { idleSeconds: number };
  /**
   * At the end of an incomplete log, go on live from exactly the replayed state (every vCPU
   * paused at its last landmark in the log, then devices read the world), recording into
   * `logPath` if given: a log that replays from reset on its own (the replayed records,
   * then the live ones). A replica's switchover. An existing file at `logPath` is replaced
   * only with `force`, and only by a complete log (as `record -o`).
   */
  thenRun?: { logPath?: string; force?: boolean; maxQueuedLogBytes?: number };
  /** a log recorded with --disk-shared: the disk image (default: the path in the log) */
  disk?: string;
  /**
   * emu: write a state image to `path` at the first checkpoint cut whose ordinal in the log
   * is at least `fromCheckpoint` (1: the first) and where no vCPU is in a serialized group;
   * the replay runs on to its end as usual. An existing file is replaced only with `force`;
   * never the log or the guest image.
   */
  saveImage?: { path: string; fromCheckpoint: number; force?: boolean };
  /** emu: start from this state image instead of reset, replaying the log from the image's cut on */
  resumeFrom?: string;
}

/** What every outcome carries: the log's header, the engine it ran on, its result and what it read of the log. */
interface ReplayFacts {
  header: LogHeader;
  engine: Engine;
  result: RunResult;
  log: NativeReplayReport;
  /** resumeFrom: the image the replay started from */
  resumedFrom?: StateImageInfo;
  /** saveImage: the image written, or undefined when no cut served (none at or after the ordinal outside serialized mode) */
  savedImage?: StateImageInfo;
}

export type ReplayOutcome =
  | ({ kind: 'exited'; exitCode: number } & ReplayFacts)
  /**
   * The recording ended without a clean close: replayed up to the last landmark the log
   * vouches for on each vCPU (`reached`, one count per vCPU; every checkpoint up to there
   * compared), and stopped there: what the recording did after its last sealed chunk is unknown.
   */
  | ({ kind: 'incomplete'; reached: bigint[] } & ReplayFacts)
  | ({ kind: 'diverged'; report: DivergenceReport } & ReplayFacts)
  /**
   * thenRun: replayed to the end of the log, then ran live from `liveFrom` (each vCPU's
   * landmark) to the guest's exit; `nextLog`: where the log recorded on was put
   */
  | ({ kind: 'went-live'; exitCode: number; liveFrom: bigint[]; nextLog?: LogPlacement } & ReplayFacts);

/** Throws a one-line GuestImageError when `image` is not the one the log was recorded from. */
export function checkImageMatchesLog(image: GuestImage, loggedHashHex: string): void {
  const actual = image.sha256.toString('hex');
  if (actual !== loggedHashHex) {
    throw new GuestImageError(
      `${printable(image.path)} is not the guest image this log was recorded from (log: sha256 ${loggedHashHex.slice(0, 16)}…, ` +
        `file: sha256 ${actual.slice(0, 16)}…); give the right ELF with --guest`,
    );
  }
}

/** A log to replay: its header, and the path the engine reads it from. */
interface LogToReplay {
  header: LogHeader;
  path: string;
  close(): void;
}

/**
 * The log's header, and where the engine reads the log. Following a recording, waits for
 * the recorder to create the file and write its header: `record -o OUT` writes
 * `OUT.recording` and renames it to OUT when it ends, so whichever of the two is there is
 * followed, through a descriptor held open here (`/proc/self/fd/N`), which the rename
 * does not disturb.
 */
async function logToReplay(options: ReplayOptions): Promise<LogToReplay> {
  // A replica's backup: the log arrives on a descriptor, its header already read from the wire.
  if (options.stream !== undefined) return { header: options.stream.header, path: options.logPath, close: () => {} };
  if (options.follow === undefined) return { header: readLogHeaderFile(options.logPath), path: options.logPath, close: () => {} };
  const deadline = options.follow.idleSeconds > 0 ? Date.now() + options.follow.idleSeconds * 1000 : Infinity;
  const partial = `${options.logPath}.recording`;
  for (;;) {
    const path = [options.logPath, partial].find((p) => existsSync(p));
    if (path !== undefined) {
      try {
        const header = readLogHeaderFile(path);
        if (path === options.logPath) return { header, path, close: () => {} };
        const { fd } = openRegularFile(path, 'log');
        return { header, path: `/proc/self/fd/${fd}`, close: () => closeSync(fd) };
      } catch (error) {
        // A header not yet written whole; or the file renamed between the look and the read.
        const notYet = error instanceof LogFormatError && (error.code === 'empty' || error.code === 'truncated');
        const moved = (error instanceof LogFormatError || error instanceof FileRefused) && !existsSync(path);
        if (!(notYet || moved) || Date.now() > deadline) throw error;
      }
    } else if (Date.now() > deadline) {
      throw new FileRefused(
        'missing',
        options.logPath,
        `log ${printable(options.logPath)}: no such file, and no recording to it appeared within ${options.follow.idleSeconds} s`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export async function replay(options: ReplayOptions): Promise<ReplayOutcome> {
  // The header only: the engine reads, checks and decodes every chunk as the replay reaches it.
  const log = await logToReplay(options);
  try {
    return await replayLog(options, log);
  } finally {
    log.close();
  }
}

async function replayLog(options: ReplayOptions, { header, path: logPath }: LogToReplay): Promise<ReplayOutcome> {
  let engine: Engine;
  try {
    engine = engineNamed(header.engine);
  } catch (error) {
    throw new LogFormatError('bad-header', HEADER_CHUNK, 16, `the log names the engine '${printable(header.engine)}': ${(error as Error).message}`);
  }
  checkHeaderFits(header, engine);
  const elf = options.elf ?? header.imagePath;
  if (options.elf === undefined && !existsSync(elf)) {
    throw new FileRefused('missing', elf, `the guest image recorded in the log, ${printable(elf)}, is gone; give it with --guest`);
  }
  const image = await readGuestImage(elf);
  checkImageMatchesLog(image, header.imageHash);
  const resumedFrom = options.resumeFrom === undefined ? undefined : stateImageInfo(options.resumeFrom);
  if ((options.saveImage !== undefined || resumedFrom !== undefined) && engine.name !== 'emu') {
    throw new StateImageError(`state images are of the emu engine's machine; this log was recorded on ${engine.name}`);
  }
  if (options.saveImage !== undefined) checkImageDestination(options.saveImage, [options.logPath, image.path, options.resumeFrom]);
  // The engine writes the image under another name and renames it: a new file, whatever was there.
  const imageBefore = options.saveImage !== undefined && existsSync(options.saveImage.path) ? statSync(options.saveImage.path).ino : undefined;
  // A log that holds the disk's bytes needs only the disk's size; a --disk-shared one
  // needs the very image it was recorded with, and so does a replay that goes on live
  // (the disk is read from the image from there on).
  const disk = recordedDisk(header.configJson);
  const diskPath =
    disk === undefined
      ? null
      : disk.shared
        ? await sharedDiskForReplay(disk, options.disk)
        : options.thenRun !== undefined
          ? await sharedDiskForReplay(disk, options.disk, 'going on live after the log reads the disk')
          : null;

  // --then-run -o: the log recorded on goes where `record -o` puts its log, and never over
  // the log being replayed, the image or a disk (session/log-destination.ts).
  const nextLog =
    options.thenRun?.logPath === undefined
      ? undefined
      : LogDestination.prepare(options.thenRun.logPath, {
          force: options.thenRun.force ?? false,
          reads: [
            { role: 'the log being replayed', path: options.logPath },
            { role: 'the guest image', path: image.path },
            ...(diskPath === null ? [] : [{ role: 'the disk image (--disk)', path: diskPath }]),
          ],
        });
  let result: RunResult;
  try {
    result = await engine.run(image, {
      vcpus: header.vcpus,
      ramMiB: header.ramMib,
      // Live after the log: checkpoints as the recording had them (replay takes the log's).
      checkpointInterval: options.thenRun === undefined ? undefined : header.checkpointInterval,
      capture: options.capture,
      input: options.input,
      timeoutSeconds: options.timeoutSeconds,
      onProgress: options.onProgress,
      progressIntervalMs: options.progressIntervalMs,
      threads: options.threads,
      spinDetection: options.spinDetection,
      shuffleSeed: options.shuffleSeed,
      session: {
        mode: 'replay',
        path: logPath,
        followMs: options.follow === undefined ? -1 : options.follow.idleSeconds * 1000,
        streamFd: options.stream?.fd,
        ...(options.stream?.start === undefined
          ? {}
          : { streamStart: { chunk: options.stream.start.chunk, records: Number(options.stream.start.records) } }),
        thenRun:
          options.thenRun === undefined
            ? null
            : {
                path: nextLog?.partialPath ?? '',
                crewHold: CREW_DEFAULT_HOLD,
                serialize: serialOptionsOfLog(header.configJson),
                ...(options.thenRun.maxQueuedLogBytes === undefined ? {} : { maxQueuedLogBytes: options.thenRun.maxQueuedLogBytes }),
              },
        // A replay going live may be asked for state images (a replica's engine: emuRequestStateImage).
        ...(resumedFrom === undefined && options.saveImage === undefined && options.thenRun === undefined ? {} : { imageHash: image.sha256 }),
        ...(options.resumeFrom === undefined ? {} : { resumeFrom: options.resumeFrom }),
        ...(options.saveImage === undefined
          ? {}
          : { saveImage: { path: options.saveImage.path, fromCheckpoint: options.saveImage.fromCheckpoint } }),
      },
      // Live after the log, the disk's reads are logged as the recording logged them.
      disk: disk === undefined ? undefined : { path: diskPath, sectors: disk.sectors, shared: options.thenRun !== undefined && disk.shared },
    });
  } catch (error) {
    nextLog?.settle(false);
    throw error;
  }
  // The next log has its trailer when the guest exited (live, or within the replayed log).
  const placed = nextLog?.settle(result.outcome === 'exited');
  const log = result.replay;
  if (log === undefined) throw new EngineFailure('a replay without a report of what it read', result);
  const imageWritten = options.saveImage !== undefined && existsSync(options.saveImage.path) && statSync(options.saveImage.path).ino !== imageBefore;
  const savedImage = imageWritten && options.saveImage !== undefined ? stateImageInfo(options.saveImage.path) : undefined;
  const facts: ReplayFacts = { header, engine, result, log, resumedFrom, savedImage };
  if (result.outcome === 'log-damaged') {
    // Met where the replay reached it: the same error as any reader gives for that chunk.
    // No damage where it stopped: a log that reads well but that this run cannot follow.
    if (log.damage === undefined) throw new UnreplayableLog(result.error);
    throw new LogFormatError(log.damage.code as LogErrorCode, log.damage.chunk, log.damage.offset, log.damage.detail);
  }
  // Replay never goes past what the log vouches for, so a divergence is one, complete log or not.
  if (result.outcome === 'diverged') {
    if (result.divergence === undefined) throw new EngineFailure(`a divergence without a report: ${result.error}`, result);
    const report = divergenceFromNative(result.divergence, result.error);
    if (log.lastMatchingCheckpoint !== undefined) report.lastMatchingCheckpoint = [...log.lastMatchingCheckpoint];
    return { kind: 'diverged', report, ...facts };
  }
  if (log.liveFrom !== undefined) {
    return { kind: 'went-live', exitCode: result.exitCode, liveFrom: [...log.liveFrom], nextLog: placed, ...facts };
  }
  if (!log.complete) return { kind: 'incomplete', reached: result.vcpus.map((v) => v.landmark), ...facts };
  return { kind: 'exited', exitCode: result.exitCode, ...facts };
}

/**
 * A state image's destination: never the log, the guest image or the image resumed from, and
 * an existing file only with `force`. Throws StateImageDestinationRefused (one line) before anything runs.
 */
function checkImageDestination(save: { path: string; force?: boolean }, inputs: readonly (string | undefined)[]): void {
  const resolved = (p: string): string => (existsSync(p) ? realpathSync(p) : resolvePath(p));
  const target = resolved(save.path);
  for (const input of inputs) {
    if (input !== undefined && existsSync(input) && resolved(input) === target) {
      throw new StateImageDestinationRefused(`--save-image ${printable(save.path)} names an input of this replay; give another path`);
    }
  }
  if (existsSync(save.path) && save.force !== true) {
    throw new StateImageDestinationRefused(`--save-image ${printable(save.path)} exists; give --force to replace it`);
  }
}

/**
 * The header's machine, checked against what the engine can build, so that a value out of
 * range (a crafted or damaged header whose CRC was fixed) is reported as coming from the log
 * rather than as a bad option.
 */
function checkHeaderFits(header: LogHeader, engine: Engine): void {
  const bad = (what: string): never => {
    throw new LogFormatError('bad-header', HEADER_CHUNK, 16, `the log's header says ${what}`);
  };
  if (header.vcpus > engine.maxVcpus) bad(`${header.vcpus} vCPUs; the ${engine.name} engine has at most ${engine.maxVcpus}`);
  if (header.ramMib < 1 || header.ramMib > engine.maxRamMiB) bad(`${header.ramMib} MiB of RAM; the ${engine.name} engine takes 1 to ${engine.maxRamMiB}`);
}
