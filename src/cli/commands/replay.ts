/** `rrkit replay`: the recorded guest's output again, from the log alone. */
import type { Argv, CommandModule } from 'yargs';
import { formatDivergence } from '../../analysis/divergence.js';
import { replay } from '../../session/replay.js';
import { EXIT, guestCodeNote, guestExitStatus } from '../exit-status.js';
import { ProgressLine } from '../progress.js';

/** Exit status of `rrkit replay` when the replay does not follow the log. */
export const REPLAY_DIVERGED_EXIT = EXIT.diverged;

interface ReplayArgs {
  log: string;
  guest: string | undefined;
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
      .option('disk', { type: 'string', describe: 'a log recorded with --disk-shared: the disk image, when not at the path recorded in the log' }) as unknown as Argv<ReplayArgs>,
  handler: async (args) => {
    const progress = new ProgressLine(`replaying ${args.log}`, true);
    const outcome = await replay({ logPath: args.log, elf: args.guest, disk: args.disk, onProgress: progress.onProgress }).finally(() => progress.end());
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
            `${describeReached(outcome.reached, outcome.engine.landmarkUnit)}, and stopped there\n`,
        );
        process.exitCode = EXIT.incomplete;
        return;
      case 'diverged':
        process.stderr.write(`rrkit: ${formatDivergence(outcome.report)}\n`);
        process.exitCode = EXIT.diverged;
        return;
    }
  },
};
