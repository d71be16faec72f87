/** `rrkit replay`: the recorded guest's output again, from the log alone. */
import type { Argv, CommandModule } from 'yargs';
import { formatDivergence } from '../../analysis/divergence.js';
import { scanLogFile } from '../../analysis/log-reader.js';
import { replay } from '../../session/replay.js';
import { ProgressLine } from '../progress.js';

/** Exit status of `rrkit replay` when the replay does not follow the log. */
export const REPLAY_DIVERGED_EXIT = 125;

interface ReplayArgs {
  log: string;
  guest: string | undefined;
  disk: string | undefined;
}

export const replayCommand: CommandModule<object, ReplayArgs> = {
  command: 'replay <log>',
  describe: `replay a log: the guest's console output again, and its exit code (${REPLAY_DIVERGED_EXIT} if it diverges)`,
  builder: (y: Argv) =>
    y
      .positional('log', { type: 'string', demandOption: true, describe: 'the log (RUN.rrlog)' })
      .option('guest', { type: 'string', describe: 'the guest ELF, when not at the path recorded in the log' })
      .option('disk', { type: 'string', describe: 'a log recorded with --disk-shared: the disk image, when not at the path recorded in the log' }) as unknown as Argv<ReplayArgs>,
  handler: async (args) => {
    const progress = new ProgressLine(`replaying ${args.log}`, true);
    const outcome = await replay({ logPath: args.log, elf: args.guest, disk: args.disk, onProgress: progress.onProgress }).finally(() => progress.end());
    switch (outcome.kind) {
      case 'exited':
        process.exitCode = outcome.exitCode;
        return;
      case 'incomplete':
        process.stderr.write(
          `rrkit: the log is incomplete (the recording did not close it); replayed its ${scanLogFile(args.log, () => {}).chunks.length} sealed chunks` +
            (outcome.endedAt ? `, up to vcpu ${outcome.endedAt.vcpu} @ ${outcome.endedAt.count}` : '') + '\n',
        );
        process.exitCode = outcome.endedAt ? REPLAY_DIVERGED_EXIT : outcome.result.exitCode;
        return;
      case 'diverged':
        process.stderr.write(`rrkit: ${formatDivergence(outcome.report)}\n`);
        process.exitCode = REPLAY_DIVERGED_EXIT;
        return;
    }
  },
};
