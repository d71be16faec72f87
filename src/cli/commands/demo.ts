/** `rrkit demo`: record, replay and verify a built-in workload and summarise. */
import type { CommandModule } from 'yargs';

export const demoCommand: CommandModule = {
  command: 'demo',
  describe: 'record, replay and verify a built-in workload, with a one-screen summary',
  handler: () => {
    throw new Error('demo needs the emu engine and the record log, which this build does not have yet');
  },
};
