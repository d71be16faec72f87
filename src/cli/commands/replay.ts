/** `rrkit replay`: the recorded guest's output again, from the log alone. */
import type { Argv, CommandModule } from 'yargs';
import { formatDivergence } from '../../analysis/divergence.js';
import { statSync } from 'node:fs';
import { replay, type ReplayOutcome } from '../../session/replay.js';
import { describeCut } from '../../session/state-image.js';
import { printable } from '../../files/printable.js';
import { checkThreads, THREADS_OPTION } from '../machine-args.js';
import { UsageError } from '../errors.js';
import { EXIT, guestCodeNote, guestExitStatus } from '../exit-status.js';
import { numberOption } from '../number-option.js';
import { ProgressLine } from '../progress.js';

/** Exit status of `rrkit replay` when the replay does not follow the log. */
export const REPLAY_DIVERGED_EXIT = EXIT.diverged;
/** How long `--follow` waits for the log to grow before it takes it as ended. */
export const DEFAULT_FOLLOW_TIMEOUT_SECONDS = 30;

interface ReplayArgs {
  log: string;
  guest: string | undefined;
  threads: string | undefined;
  follow: boolean;
  'follow-timeout': string;
  force: boolean;
  'then-run': boolean;
  output: string | undefined;
  disk: string | undefined;
  'save-image': string | undefined;
  'image-at': string;
  'from-image': string | undefined;
}

/**
 * What --from-image and --save-image did, on stderr, with the final state (which a replay
 * from the image must share with the replay from reset). No image where one was asked for:
 * the status says bad usage (no checkpoint at or after --image-at served).
 */
function reportImages(outcome: ReplayOutcome, savePath: string | undefined, imageAt: number): boolean {
  const { resumedFrom, savedImage } = outcome;
  if (resumedFrom !== undefined) {
    process.stderr.write(
      `rrkit: resumed from the state image at checkpoint ${resumedFrom.checkpoint} (${describeCut(resumedFrom.counts)}); ` +
        `console output from byte ${resumedFrom.consoleOffset}\n`,
    );
  }
  if (savePath !== undefined && savedImage !== undefined) {
    process.stderr.write(
      `rrkit: state image at checkpoint ${savedImage.checkpoint} (${describeCut(savedImage.counts)}) written to ${printable(savePath)}: ` +
        `${savedImage.pages} pages, ${statSync(savePath).size} bytes; console output from byte ${savedImage.consoleOffset}\n`,
    );
  }
  if (resumedFrom !== undefined || savePath !== undefined) {
    process.stderr.write(
      `rrkit: final state ${outcome.result.stateHash.toString(16).padStart(16, '0')}; ${outcome.log.checkpointsCompared} checkpoints compared\n`,
    );
  }
  if (savePath !== undefined && savedImage === undefined && outcome.kind !== 'diverged') {
    process.stderr.write(
      `rrkit: no state image written: the replay met no checkpoint at or after the ${imageAt}${ordinalSuffix(imageAt)} outside serialized mode\n`,
    );
    return true;
  }
  return false;
}

function ordinalSuffix(n: number): string {
  if (n % 100 >= 11 && n % 100 <= 13) return 'th';
  return ['th', 'st', 'nd', 'rd'][n % 10] ?? 'th';
}

/** "vcpu 0 @ 1200, vcpu 1 @ 800" */
export function describeReached(reached: readonly bigint[], unit: string): string {
  return reached.map((count, vcpu) => `vcpu ${vcpu} @ ${count}`).join(', ') + ` ${unit}`;
}

export const replayCommand: CommandModule<object, ReplayArgs> = {
  command: 'replay <log>',
  describe: `replay a log: the guest's console output again, and its exit code (${EXIT.diverged} if it diverges, ${EXIT.incomplete} if the log is incomplete)`,
  builder: (y: Argv) =>
    y
      .positional('log', { type: 'string', demandOption: true, describe: 'the log (RUN.rrlog)' })
      .option('guest', { type: 'string', describe: 'the guest ELF, when not at the path recorded in the log' })
      .option('follow', {
        type: 'boolean',
        default: false,
        describe: 'replay a log a recording is still writing, as its chunks are sealed, until its trailer',
      })
      .option('follow-timeout', {
        type: 'string',
        default: String(DEFAULT_FOLLOW_TIMEOUT_SECONDS),
        describe: 'with --follow: seconds without a new byte before the log counts as ended (0: wait forever)',
      })
      .option('then-run', {
        type: 'boolean',
        default: false,
        describe: 'at the end of an incomplete log, go on live from exactly the replayed state (a replica taking over)',
      })
      .option('output', { alias: 'o', type: 'string', describe: 'with --then-run: record on into this log (the replayed records, then the live run)' })
      .option('force', {
        type: 'boolean',
        default: false,
        describe: 'with -o: replace an existing file (only a complete new log replaces it); with --save-image: replace an existing image',
      })
      .option('disk', {
        type: 'string',
        describe: 'a log recorded with --disk-shared, or any log with a disk and --then-run (live, the disk is read): the disk image, when not at the path recorded in the log',
      })
      .option('save-image', {
        type: 'string',
        describe: 'emu: write a state image (registers, memory, devices) at a checkpoint cut to this file, and replay on',
      })
      .option('image-at', {
        type: 'string',
        default: '1',
        describe: 'with --save-image: the first checkpoint (1, 2, ...) whose cut may serve; the first outside serialized mode at or after it does',
      })
      .option('from-image', {
        type: 'string',
        describe: 'emu: start from this state image instead of reset, replaying the log from its cut on',
      })
      .option('threads', THREADS_OPTION)
      .example('$0 replay run.rrlog --then-run -o next.rrlog', 'replay a crashed recording, then continue it live, recording on')
      .example('$0 replay run.rrlog --save-image cut.rrimg --image-at 3 && $0 replay run.rrlog --from-image cut.rrimg', 'replay from a state image taken at the third checkpoint')
      .example('$0 record lock-counter -o run.rrlog & $0 replay --follow run.rrlog', 'replay while it is recorded') as unknown as Argv<ReplayArgs>,
  handler: async (args) => {
    const timeout = numberOption('--follow-timeout', args['follow-timeout'], { integer: false, min: 0, max: 365 * 24 * 3600, unit: 'seconds; 0: forever' }) ?? 0;
    if (args.output !== undefined && !args['then-run']) throw new UsageError('-o/--output records the live run: it needs --then-run');
    const threads = checkThreads(args.threads);
    const imageAt = numberOption('--image-at', args['image-at'], { integer: true, min: 1, max: Number.MAX_SAFE_INTEGER, unit: 'a checkpoint ordinal' }) ?? 1;
    if (args['save-image'] === undefined && args['image-at'] !== '1') throw new UsageError('--image-at says where --save-image takes its image: it needs --save-image');
    const progress = new ProgressLine(`replaying ${printable(args.log)}`, true);
    const outcome = await replay({
      logPath: args.log,
      elf: args.guest,
      onProgress: progress.onProgress,
      follow: args.follow ? { idleSeconds: timeout } : undefined,
      disk: args.disk,
      threads,
      thenRun: args['then-run'] ? { logPath: args.output, force: args.force } : undefined,
      saveImage: args['save-image'] === undefined ? undefined : { path: args['save-image'], fromCheckpoint: imageAt, force: args.force },
      resumeFrom: args['from-image'],
    }).finally(() => progress.end());
    const missingImage = reportImages(outcome, args['save-image'], imageAt);
    switch (outcome.kind) {
      case 'exited': {
        const note = guestCodeNote(outcome.exitCode);
        if (note !== undefined) process.stderr.write(`rrkit: note: ${note}\n`);
        process.exitCode = guestExitStatus(outcome.exitCode);
        break;
      }
      case 'incomplete':
        process.stderr.write(
          `rrkit: the log is incomplete (the recording did not close it): replayed as far as it vouches, ` +
            `${describeReached(outcome.reached, outcome.engine.landmarkUnit)}, and stopped there (its ${outcome.log.chunks} sealed chunks)\n`,
        );
        process.exitCode = EXIT.incomplete;
        break;
      case 'diverged':
        process.stderr.write(`rrkit: ${formatDivergence(outcome.report)}\n`);
        process.exitCode = EXIT.diverged;
        break;
      case 'went-live': {
        const next = outcome.nextLog === undefined ? '' : `, recording on into ${printable(outcome.nextLog.path)}`;
        process.stderr.write(
          `rrkit: replayed the log's ${outcome.log.chunks} chunks to its end, then ran live from ` +
            outcome.liveFrom.map((count, vcpu) => `vcpu ${vcpu} @ ${count}`).join(', ') +
            `${next}; exit code ${outcome.exitCode}\n`,
        );
        const note = guestCodeNote(outcome.exitCode);
        if (note !== undefined) process.stderr.write(`rrkit: note: ${note}\n`);
        process.exitCode = guestExitStatus(outcome.exitCode);
        break;
      }
    }
    if (missingImage) process.exitCode = EXIT.usage;
  },
};
