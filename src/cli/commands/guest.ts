/**
 * `rrkit guest build`: build a researcher's own C program against the guest runtime.
 * `rrkit guest disk`: write a disk image for the x86_64 board's block device.
 */
import type { Argv, CommandModule } from 'yargs';
import { buildGuest } from '../../guests/build.js';
import { writeDiskImage } from '../../guests/disk-image.js';
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

interface DiskArgs {
  output: string;
  sectors: number;
  seed: number;
}

const diskCommand: CommandModule<object, DiskArgs> = {
  command: 'disk <output>',
  describe: 'write a disk image (pseudo-random data and the checksum disk-checksum checks) for --disk',
  builder: (y: Argv) =>
    y
      .positional('output', { type: 'string', demandOption: true, describe: 'image file to write' })
      .option('sectors', { type: 'number', default: 8192, describe: 'data sectors of 512 bytes (one more describes them)' })
      .option('seed', { type: 'number', default: 1, describe: 'different seeds give different data' })
      .example('$0 guest disk disk.img --sectors 32768', 'a 16 MiB image; then `rrkit run --engine kvm disk-checksum --disk disk.img`') as unknown as Argv<DiskArgs>,
  handler: async (args) => {
    if (!Number.isSafeInteger(args.seed) || args.seed < 0) throw new UsageError(`--seed must be a non-negative integer, not ${args.seed}`);
    let facts;
    try {
      facts = await writeDiskImage(args.output, args.sectors, args.seed);
    } catch (error) {
      if (error instanceof RangeError) throw new UsageError(`--sectors: ${error.message}`);
      throw error;
    }
    process.stderr.write(
      `rrkit: wrote ${args.output}: ${facts.dataSectors} data sectors (${facts.bytes} bytes), fnv ${facts.checksum.toString(16).padStart(16, '0')}\n`,
    );
  },
};

export const guestCommand: CommandModule = {
  command: 'guest <command>',
  describe: 'build guest programs and disk images',
  builder: (y: Argv) => y.command(buildCommand).command(diskCommand).demandCommand(1),
  handler: () => {},
};
