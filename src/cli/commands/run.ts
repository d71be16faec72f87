/** `rrkit run`: a plain run of a guest on an engine, nothing logged. */
import type { Argv, CommandModule } from 'yargs';
import { EMU_DEFAULT_RAM_MIB, EMU_MAX_HARTS, EmuGuestError, runEmu } from '../../engines/emu.js';
import { resolveGuest } from '../../guests/catalog.js';
import { checkEngineAvailable, checkRamMiB, checkTimeout, checkVcpus, readConsoleInput } from '../machine-args.js';

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
    checkEngineAvailable(args.engine);
    const harts = checkVcpus(args.vcpus);
    const ramMiB = checkRamMiB(args.ram);
    const timeoutSeconds = checkTimeout(args.timeout);
    const elf = resolveGuest(args.guest, 'rv64');
    const input = await readConsoleInput(args.input);
    try {
      const result = await runEmu({ elf, harts, ramMiB, timeoutSeconds, input });
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
