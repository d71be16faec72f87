/**
 * Replay: re-execute a recorded guest from the same image, on the engine the log names,
 * feeding it the logged values at the logged landmarks, reading nothing from the world, and
 * comparing every checkpoint and the final state with the recording. The outcome is data
 * (rr's replay_step): the guest exited as recorded, or it diverged and the report says where.
 */
import { existsSync } from 'node:fs';
import { divergenceFromNative, type DivergenceReport } from '../analysis/divergence.js';
import { readLogHeaderFile, scanLogFile, type LogHeader } from '../analysis/log-reader.js';
import { EngineFailure, type Engine, type RunProgress, type RunResult } from '../engines/engine.js';
import { engineNamed } from '../engines/index.js';
import { LogFormatError, HEADER_CHUNK } from '../analysis/log-error.js';
import { FileRefused } from '../files/regular-file.js';
import { printable } from '../files/printable.js';
import { GuestImageError, readGuestImage, type GuestImage } from '../guests/image.js';
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
  /** a log recorded with --disk-shared: the disk image (default: the path in the log) */
  disk?: string;
}

/** What every outcome carries: the log's header, the engine it ran on and its result. */
interface ReplayFacts {
  header: LogHeader;
  engine: Engine;
  result: RunResult;
}

export type ReplayOutcome =
  | ({ kind: 'exited'; exitCode: number } & ReplayFacts)
  /**
   * The recording ended without a clean close: replayed up to the last landmark the log
   * vouches for on each vCPU (`reached`, one count per vCPU; every checkpoint up to there
   * compared), and stopped there: what the recording did after its last sealed chunk is unknown.
   */
  | ({ kind: 'incomplete'; reached: bigint[] } & ReplayFacts)
  | ({ kind: 'diverged'; report: DivergenceReport } & ReplayFacts);

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

/** The last checkpoint in the log that the replay passed before diverging. */
function lastMatchingCheckpoint(logPath: string, report: DivergenceReport): bigint[] | undefined {
  const checkpointField = report.what === 'register hash' || report.what === 'memory hash';
  let last: bigint[] | undefined;
  scanLogFile(logPath, (record) => {
    if (record.type !== 'checkpoint') return;
    const at = record.vcpus[report.vcpu]?.count;
    if (at === undefined) return;
    if (at < report.count || (!checkpointField && at === report.count)) last = record.vcpus.map((v) => v.count);
  });
  return last;
}

export async function replay(options: ReplayOptions): Promise<ReplayOutcome> {
  // The header only: the engine's reader validates every chunk as it loads the log, and a
  // second full parse here would cost as much as a short replay.
  const header = readLogHeaderFile(options.logPath);
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
  // A log that holds the disk's bytes needs only the disk's size; a --disk-shared one
  // needs the very image it was recorded with.
  const disk = recordedDisk(header.configJson);
  const diskPath = disk?.shared === true ? await sharedDiskForReplay(disk, options.disk) : null;

  const result = await engine.run(image, {
    vcpus: header.vcpus,
    ramMiB: header.ramMib,
    capture: options.capture,
    timeoutSeconds: options.timeoutSeconds,
    onProgress: options.onProgress,
    progressIntervalMs: options.progressIntervalMs,
    session: { mode: 'replay', path: options.logPath },
    disk: disk === undefined ? undefined : { path: diskPath, sectors: disk.sectors, shared: false },
  });
  const facts: ReplayFacts = { header, engine, result };
  // Replay never goes past what the log vouches for, so a divergence is one, complete log or not.
  if (result.outcome === 'diverged') {
    if (result.divergence === undefined) throw new EngineFailure(`a divergence without a report: ${result.error}`, result);
    const report = divergenceFromNative(result.divergence, result.error);
    report.lastMatchingCheckpoint = lastMatchingCheckpoint(options.logPath, report);
    return { kind: 'diverged', report, ...facts };
  }
  if (!result.logComplete) return { kind: 'incomplete', reached: result.vcpus.map((v) => v.landmark), ...facts };
  return { kind: 'exited', exitCode: result.exitCode, ...facts };
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
