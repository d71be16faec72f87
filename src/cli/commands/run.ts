/** `rrkit run`: a plain run of a guest on an engine, nothing logged. */
import { readFile } from 'node:fs/promises';
import type { Argv, CommandModule } from 'yargs';
import { EMU_DEFAULT_RAM_MIB, EMU_MAX_HARTS, EmuGuestError, runEmu, type EmuInput } from '../../engines/emu.js';
import { resolveGuest } from '../../guests/catalog.js';
import { UsageError } from '../errors.js';

interface RunArgs {
  engine: 'emu' | 'kvm';
  vcpus: number;
  ram: number;
  timeout: number;
  input: string | undefined;
  guest: string;
  stats: boolean;
}

export const runCommand: CommandModule<object, RunArgs> = {
  command: 'run <guest>',
  describe: 'run a guest (a built-in workload name or an ELF path), nothing logged',
  builder: (y: Argv) =>
    y
      .positional('guest', { type: 'string', demandOption: true, describe: 'built-in workload name or ELF path' })
      .option('engine', { choices: ['emu', 'kvm'] as const, default: 'emu' as const, describe: 'execution engine' })
      .option('vcpus', { type: 'number', default: 1, describe: `harts (1..${EMU_MAX_HARTS})` })
      .option('ram', { type: 'number', default: EMU_DEFAULT_RAM_MIB, describe: 'guest RAM in MiB' })
      .option('timeout', { type: 'number', default: 0, describe: 'stop the guest after this many seconds (0: never)' })
      .option('input', { type: 'string', describe: 'console input: a file, or - for stdin' })
      .option('stats', { type: 'boolean', default: false, describe: 'print instruction counts and MIPS to stderr' })
      .example('$0 run --engine emu --vcpus 4 matmul', '') as unknown as Argv<RunArgs>,
  handler: async (args) => {
    if (args.engine === 'kvm') {
      throw new Error('the kvm engine is not available here: there is no /dev/kvm on this machine (use --engine emu)');
    }
    if (!Number.isInteger(args.vcpus) || args.vcpus < 1 || args.vcpus > EMU_MAX_HARTS)
      throw new UsageError(`--vcpus must be an integer from 1 to ${EMU_MAX_HARTS}, not ${args.vcpus}`);
    if (!Number.isInteger(args.ram) || args.ram < 1 || args.ram > 4096)
      throw new UsageError(`--ram must be an integer number of MiB from 1 to 4096, not ${args.ram}`);
    if (!Number.isFinite(args.timeout) || args.timeout < 0)
      throw new UsageError(`--timeout must be a non-negative number of seconds, not ${args.timeout}`);
    const elf = resolveGuest(args.guest, 'rv64');
    const input = await readInput(args.input);
    try {
      const result = await runEmu({ elf, harts: args.vcpus, ramMiB: args.ram, timeoutSeconds: args.timeout, input });
      if (args.stats) {
        const counts = result.harts.map((h) => h.instret);
        const total = counts.reduce((a, b) => a + b, 0n);
        const mips = Number(total) / result.wallSeconds / 1e6;
        process.stderr.write(
          `rrkit: exit ${result.exitCode}, instructions ${counts.join(' ')}, ${result.wallSeconds.toFixed(3)} s, ` +
            `${mips.toFixed(0)} MIPS, state ${result.stateHash.toString(16).padStart(16, '0')}\n`,
        );
      }
      process.exitCode = result.exitCode;
    } catch (error) {
      if (error instanceof EmuGuestError) {
        process.stderr.write(`rrkit: ${error.message}\n`);
        process.exitCode = error.result.outcome === 'timeout' ? 124 : 1;
        return;
      }
      throw error;
    }
  },
};

async function readInput(path: string | undefined): Promise<EmuInput> {
  if (path === undefined) return { kind: 'none' };
  if (path === '-') return { kind: 'fd', fd: 0 };
  try {
    return { kind: 'bytes', data: await readFile(path) };
  } catch {
    throw new UsageError(`--input ${path}: no such file or not readable`);
  }
}
