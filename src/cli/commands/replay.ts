/** `rrkit replay`: the recorded guest's output again, from the log alone. */
import type { Argv, CommandModule } from 'yargs';
import { formatDivergence } from '../../analysis/divergence.js';
import { replay } from '../../session/replay.js';
import { UsageError } from '../errors.js';
import { ProgressLine } from '../progress.js';

/** Exit status of `rrkit replay` when the replay does not follow the log. */
export const REPLAY_DIVERGED_EXIT = 125;
/** How long `--follow` waits for the log to grow before it takes it as ended. */
export const DEFAULT_FOLLOW_TIMEOUT_SECONDS = 30;

interface ReplayArgs {
  log: string;
  guest: string | undefined;
  follow: boolean;
  'follow-timeout': number;
  'then-run': boolean;
  output: string | undefined;
  disk: string | undefined;
}

export const replayCommand: CommandModule<object, ReplayArgs> = {
  command: 'replay <log>',
  describe: `replay a log: the guest's console output again, and its exit code (${REPLAY_DIVERGED_EXIT} if it diverges)`,
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
        type: 'number',
        default: DEFAULT_FOLLOW_TIMEOUT_SECONDS,
        describe: 'with --follow: seconds without a new byte before the log counts as ended (0: wait forever)',
      })
      .option('then-run', {
        type: 'boolean',
        default: false,
        describe: 'at the end of an incomplete log, go on live from exactly the replayed state (a replica taking over)',
      })
      .option('output', { alias: 'o', type: 'string', describe: 'with --then-run: record on into this log (the replayed records, then the live run)' })
      .option('disk', { type: 'string', describe: 'a log recorded with --disk-shared: the disk image, when not at the path recorded in the log' })
      .example('$0 replay run.rrlog --then-run -o next.rrlog', 'replay a crashed recording, then continue it live, recording on')
      .example('$0 record lock-counter -o run.rrlog & $0 replay --follow run.rrlog', 'replay while it is recorded') as unknown as Argv<ReplayArgs>,
  handler: async (args) => {
    const timeout = args['follow-timeout'];
    if (!Number.isFinite(timeout) || timeout < 0) throw new UsageError(`--follow-timeout must be a non-negative number of seconds, not ${timeout}`);
    if (args.output !== undefined && !args['then-run']) throw new UsageError('-o/--output records the live run: it needs --then-run');
    const progress = new ProgressLine(`replaying ${args.log}`, true);
    const outcome = await replay({
      logPath: args.log,
      elf: args.guest,
      onProgress: progress.onProgress,
      follow: args.follow ? { idleSeconds: timeout } : undefined,
      disk: args.disk,
      thenRun: args['then-run'] ? { logPath: args.output } : undefined,
    }).finally(() => progress.end());
    switch (outcome.kind) {
      case 'exited':
        process.exitCode = outcome.exitCode;
        return;
      case 'incomplete':
        process.stderr.write(
          `rrkit: the log is incomplete (the recording did not close it); replayed its ${outcome.log.chunks} sealed chunks` +
            (outcome.endedAt ? `, up to vcpu ${outcome.endedAt.vcpu} @ ${outcome.endedAt.count}` : '') + '\n',
        );
        process.exitCode = outcome.endedAt ? REPLAY_DIVERGED_EXIT : outcome.result.exitCode;
        return;
      case 'diverged':
        process.stderr.write(`rrkit: ${formatDivergence(outcome.report)}\n`);
        process.exitCode = REPLAY_DIVERGED_EXIT;
        return;
      case 'went-live':
        process.stderr.write(
          `rrkit: replayed the log's ${outcome.log.chunks} chunks to its end, then ran live from ` +
            outcome.liveFrom.map((count, vcpu) => `vcpu ${vcpu} @ ${count}`).join(', ') +
            (args.output === undefined ? '' : `, recording on into ${args.output}`) +
            `; exit code ${outcome.exitCode}\n`,
        );
        process.exitCode = outcome.exitCode;
        return;
    }
  },
};
