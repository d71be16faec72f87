/**
 * Replay: re-execute a recorded guest from the same image, feeding it the logged values at
 * the logged landmarks, reading nothing from the world, and comparing every checkpoint and
 * the final state with the recording. The outcome is data (rr's replay_step): the guest
 * exited as recorded, or it diverged and the report says where.
 */
import { existsSync } from 'node:fs';
import { EmuGuestError, runEmu, type EmuProgress } from '../engines/emu.js';
import type { EngineRunResult } from '../engines/engine.js';
import { KvmGuestError, runKvm, type KvmProgress } from '../engines/kvm.js';
import { recordedDisk, sharedDiskForReplay } from './kvm-disk.js';
import { divergenceFromNative, type DivergenceReport } from '../analysis/divergence.js';
import { readLogHeaderFile, scanLogFile, type LogHeader } from '../analysis/log-reader.js';
import { checkImageMatchesLog, readGuestImage } from './guest-image.js';

export interface ReplayOptions {
  logPath: string;
  /** the guest ELF; default: the path recorded in the log's header */
  elf?: string;
  capture?: boolean;
  timeoutSeconds?: number;
  /** called about once a second while the guest runs (emu) */
  onProgress?: (sample: EmuProgress) => void;
  /** called about once a second while the guest runs (kvm) */
  onKvmProgress?: (sample: KvmProgress) => void;
  /** kvm, a log recorded with --disk-shared: the disk image (default: the path in the log) */
  disk?: string;
}

/** What every outcome carries: the log's header and the engine's result. */
interface ReplayFacts {
  header: LogHeader;
  result: EngineRunResult;
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
  if (header.engine !== 'emu' && header.engine !== 'kvm') {
    throw new Error(`${options.logPath} was recorded on the ${header.engine} engine, which this build cannot replay`);
  }
  const elf = options.elf ?? header.imagePath;
  if (options.elf === undefined && !existsSync(elf)) {
    throw new Error(`the guest image recorded in the log, ${elf}, is gone; give it with --guest`);
  }
  checkImageMatchesLog(await readGuestImage(elf), elf, header.imageHash);

  let result: EngineRunResult;
  try {
    if (header.engine === 'kvm') {
      const disk = recordedDisk(header.configJson);
      // A log that holds the disk's bytes needs only the disk's size; a --disk-shared one
      // needs the very image it was recorded with.
      const diskPath = disk?.shared === true ? await sharedDiskForReplay(disk, options.disk) : null;
      result = await runKvm({
        elf,
        ramMiB: header.ramMib,
        capture: options.capture,
        timeoutSeconds: options.timeoutSeconds,
        onProgress: options.onKvmProgress,
        disk: disk === undefined ? undefined : { path: diskPath, sectors: disk.sectors, shared: false },
        session: { mode: 'replay', path: options.logPath },
      });
    } else {
      result = await runEmu({
        elf,
        harts: header.vcpus,
        ramMiB: header.ramMib,
        capture: options.capture,
        timeoutSeconds: options.timeoutSeconds,
        onProgress: options.onProgress,
        session: { mode: 'replay', path: options.logPath },
      });
    }
  } catch (error) {
    if (
      (error instanceof EmuGuestError || error instanceof KvmGuestError) &&
      error.result.outcome === 'diverged' &&
      error.result.divergence !== undefined
    ) {
      const report = divergenceFromNative(error.result.divergence, header.engine === 'kvm' ? 'exits' : 'instructions');
      if (!error.result.logComplete) return { kind: 'incomplete', endedAt: report, result: error.result, header };
      report.lastMatchingCheckpoint = lastMatchingCheckpoint(options.logPath, report);
      return { kind: 'diverged', report, result: error.result, header };
    }
    throw error;
  }
  if (!result.logComplete) return { kind: 'incomplete', result, header };
  return { kind: 'exited', exitCode: result.exitCode, result, header };
}
