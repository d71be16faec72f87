/** `rrkit replay`: the recorded guest's output again, from the log alone. */
import type { Argv, CommandModule } from 'yargs';
import { formatDivergence } from '../../analysis/divergence.js';
import { replay } from '../../session/replay.js';
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
        describe: 'with -o: replace an existing file (only a complete new log replaces it)',
      })
      .option('disk', {
        type: 'string',
        describe: 'a log recorded with --disk-shared, or any log with a disk and --then-run (live, the disk is read): the disk image, when not at the path recorded in the log',
      })
      .option('threads', THREADS_OPTION)
      .example('$0 replay run.rrlog --then-run -o next.rrlog', 'replay a crashed recording, then continue it live, recording on')
      .example('$0 record lock-counter -o run.rrlog & $0 replay --follow run.rrlog', 'replay while it is recorded') as unknown as Argv<ReplayArgs>,
  handler: async (args) => {
    const timeout = numberOption('--follow-timeout', args['follow-timeout'], { integer: false, min: 0, max: 365 * 24 * 3600, unit: 'seconds; 0: forever' }) ?? 0;
    if (args.output !== undefined && !args['then-run']) throw new UsageError('-o/--output records the live run: it needs --then-run');
    const threads = checkThreads(args.threads);
    const progress = new ProgressLine(`replaying ${printable(args.log)}`, true);
    const outcome = await replay({
      logPath: args.log,
      elf: args.guest,
      onProgress: progress.onProgress,
      follow: args.follow ? { idleSeconds: timeout } : undefined,
      disk: args.disk,
      threads,
      thenRun: args['then-run'] ? { logPath: args.output, force: args.force } : undefined,
    }).finally(() => progress.end());
    switch (outcome.kind) {
      case 'exited': {
        const note = guestCodeNote(outcome.exitCode);
        if (note !== undefined) process.stderr.write(`rrkit: note: ${note}\n`);
        process.exitCode = guestExitStatus(outcome.exitCode);
        return;
      }
      case 'incomplete':
        process.stderr.write(
          `rrkit: the log is incomplete (the recording did not close it): replayed as far as it vouches, ` +
            `${describeReached(outcome.reached, outcome.engine.landmarkUnit)}, and stopped there (its ${outcome.log.chunks} sealed chunks)\n`,
        );
        process.exitCode = EXIT.incomplete;
        return;
      case 'diverged':
        process.stderr.write(`rrkit: ${formatDivergence(outcome.report)}\n`);
        process.exitCode = EXIT.diverged;
        return;
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
        return;
      }
    }
  },
};
