/**
 * Replay: re-execute a recorded guest from the same image, feeding it the logged values at
 * the logged landmarks, reading nothing from the world, and comparing every checkpoint and
 * the final state with the recording. The outcome is data (rr's replay_step): the guest
 * exited as recorded, or it diverged and the report says where.
 *
 * The log is read once: its header here (to check the image), then the engine streams its
 * chunks as the replay reaches them and reports what it read and checked.
 */
import { existsSync } from 'node:fs';
import { EmuGuestError, runEmu, type EmuProgress, type EmuRunResult } from '../engines/emu.js';
import { divergenceFromNative, type DivergenceReport } from '../analysis/divergence.js';
import { LogFormatError, type LogErrorCode } from '../analysis/log-error.js';
import { readLogHeaderFile, type LogHeader } from '../analysis/log-reader.js';
import type { EmuReplayReport } from '../native.js';
import { checkImageMatchesLog, readGuestImage } from './guest-image.js';

export interface ReplayOptions {
  logPath: string;
  /** the guest ELF; default: the path recorded in the log's header */
  elf?: string;
  capture?: boolean;
  timeoutSeconds?: number;
  /** called about once a second while the guest runs */
  onProgress?: (sample: EmuProgress) => void;
  /**
   * Follow a log a recording is still writing: wait for new chunks until the trailer, giving
   * up after `idleSeconds` without a new byte (0: never). The file may not exist yet.
   */
  follow?: { idleSeconds: number };
}

/** What every outcome carries: the log's header, the engine's result and what it read. */
interface ReplayFacts {
  header: LogHeader;
  result: EmuRunResult;
  log: EmuReplayReport;
}

export type ReplayOutcome =
  | ({ kind: 'exited'; exitCode: number } & ReplayFacts)
  /**
   * The recording ended without a clean close: replayed as far as the last sealed chunk
   * carries it. `endedAt` is where the guest asked for more than the log holds (absent when
   * the guest ran to its exit on what there was).
   */
  | ({ kind: 'incomplete'; endedAt?: DivergenceReport } & ReplayFacts)
  | ({ kind: 'diverged'; report: DivergenceReport } & ReplayFacts);

/** The header, checked against the image; waits for the file when following. */
async function headerOf(options: ReplayOptions): Promise<LogHeader> {
  if (options.follow === undefined) return readLogHeaderFile(options.logPath);
  const deadline = options.follow.idleSeconds > 0 ? Date.now() + options.follow.idleSeconds * 1000 : Infinity;
  for (;;) {
    try {
      return readLogHeaderFile(options.logPath);
    } catch (error) {
      // Not there yet, or the recorder has not written its header yet.
      const waiting = error instanceof LogFormatError && (error.code === 'io' || error.code === 'empty' || error.code === 'truncated');
      if (!waiting || Date.now() > deadline) throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export async function replay(options: ReplayOptions): Promise<ReplayOutcome> {
  const header = await headerOf(options);
  if (header.engine !== 'emu') throw new Error(`${options.logPath} was recorded on the ${header.engine} engine, which this build cannot replay`);
  const elf = options.elf ?? header.imagePath;
  if (options.elf === undefined && !existsSync(elf)) {
    throw new Error(`the guest image recorded in the log, ${elf}, is gone; give it with --guest`);
  }
  checkImageMatchesLog(await readGuestImage(elf), elf, header.imageHash);

  let result: EmuRunResult;
  try {
    result = await runEmu({
      elf,
      harts: header.vcpus,
      ramMiB: header.ramMib,
      capture: options.capture,
      timeoutSeconds: options.timeoutSeconds,
      onProgress: options.onProgress,
      session: { mode: 'replay', path: options.logPath, followMs: options.follow === undefined ? -1 : options.follow.idleSeconds * 1000 },
    });
  } catch (error) {
    if (!(error instanceof EmuGuestError) || error.result.replay === undefined) throw error;
    const log = error.result.replay;
    if (error.result.outcome === 'log-damaged' && log.damage !== undefined) {
      throw new LogFormatError(log.damage.code as LogErrorCode, log.damage.chunk, log.damage.offset, log.damage.detail);
    }
    if (error.result.outcome === 'diverged' && error.result.divergence !== undefined) {
      const report = divergenceFromNative(error.result.divergence);
      if (log.ended && !log.complete) return { kind: 'incomplete', endedAt: report, result: error.result, header, log };
      if (log.lastMatchingCheckpoint !== undefined) report.lastMatchingCheckpoint = [...log.lastMatchingCheckpoint];
      return { kind: 'diverged', report, result: error.result, header, log };
    }
    throw error;
  }
  const log = result.replay!;
  if (!log.complete) return { kind: 'incomplete', result, header, log };
  return { kind: 'exited', exitCode: result.exitCode, result, header, log };
}
