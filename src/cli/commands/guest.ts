/** `rrkit guest build`: build a researcher's own C program against the guest runtime. */
import type { Argv, CommandModule } from 'yargs';
import { buildGuest } from '../../guests/build.js';
import { UsageError } from '../errors.js';

interface BuildArgs {
  files: string[];
  arch: 'rv64' | 'x86_64';
  output: string;
  small: boolean;
}

const buildCommand: CommandModule<object, BuildArgs> = {
  command: 'build <files..>',
  describe: 'compile C files against guests/include/rrkit.h into a guest ELF',
  builder: (y: Argv) =>
    y
      .positional('files', { type: 'string', array: true, demandOption: true, describe: 'C sources' })
      .option('arch', { choices: ['rv64', 'x86_64'] as const, demandOption: true, describe: 'guest architecture' })
      .option('output', { alias: 'o', type: 'string', demandOption: true, describe: 'ELF to write' })
      .option('small', { type: 'boolean', default: false, describe: 'define RRKIT_SMALL (quick-test sizes)' })
      .example('$0 guest build hello.c --arch rv64 -o hello.elf', '') as unknown as Argv<BuildArgs>,
  handler: async (args) => {
    if (args.files.length === 0) throw new UsageError('guest build needs at least one C file');
    try {
      await buildGuest({ sources: args.files, arch: args.arch, output: args.output, small: args.small });
    } catch (error) {
      // buildGuest checks its arguments with TypeError/RangeError: here they are the user's.
      if (error instanceof TypeError || error instanceof RangeError) throw new UsageError(error.message);
      throw error;
    }
    process.stderr.write(`rrkit: built ${args.output} (${args.arch})\n`);
  },
};

export const guestCommand: CommandModule = {
  command: 'guest <command>',
  describe: 'build guest programs',
  builder: (y: Argv) => y.command(buildCommand).demandCommand(1),
  handler: () => {},
};
