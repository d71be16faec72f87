/** `rrkit run`: a plain run of a guest on an engine, nothing logged. */
import type { Argv, CommandModule } from 'yargs';
import { EMU_DEFAULT_RAM_MIB, EMU_MAX_HARTS, EmuGuestError, runEmu } from '../../engines/emu.js';
import { KvmGuestError, runKvm } from '../../engines/kvm.js';
import { UsageError } from '../errors.js';
import { checkEngineAvailable, checkRamMiB, checkTimeout, checkVcpusForEngine, chooseGuest, readConsoleInput } from '../machine-args.js';

interface RunArgs {
  engine: 'emu' | 'kvm' | undefined;
  disk: string | undefined;
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
      .option('engine', {
        choices: ['emu', 'kvm'] as const,
        describe: "execution engine (default: the ELF's machine type; for a built-in name emu, or kvm when it needs a disk)",
      })
      .option('disk', { type: 'string', describe: 'kvm: a disk image for the board\'s block device (`rrkit guest disk`)' })
      .option('vcpus', { type: 'number', default: 1, describe: `harts (1..${EMU_MAX_HARTS})` })
      .option('ram', { type: 'number', default: EMU_DEFAULT_RAM_MIB, describe: 'guest RAM in MiB' })
      .option('timeout', { type: 'number', default: 0, describe: 'stop the guest after this many seconds (0: never)' })
      .option('input', { type: 'string', describe: 'console input: a file, or - for stdin' })
      .option('stats', { type: 'boolean', default: false, describe: 'print instruction counts and MIPS to stderr' })
      .example('$0 run --engine emu --vcpus 4 matmul', '')
      .example('$0 run --engine kvm disk-checksum --disk disk.img', '') as unknown as Argv<RunArgs>,
  handler: async (args) => {
    const { engine, elf } = chooseGuest(args.guest, args.engine, args.disk !== undefined);
    if (args.disk !== undefined && engine !== 'kvm') throw new UsageError("--disk: only the kvm engine's board has a block device");
    const harts = checkVcpusForEngine(engine, args.vcpus);
    const ramMiB = checkRamMiB(args.ram);
    const timeoutSeconds = checkTimeout(args.timeout);
    const input = await readConsoleInput(args.input);
    checkEngineAvailable(engine);
    try {
      if (engine === 'kvm') {
        const result = await runKvm({ elf, ramMiB, timeoutSeconds, input, disk: args.disk === undefined ? undefined : { path: args.disk, sectors: 0, shared: false } });
        if (args.stats) {
          process.stderr.write(
            `rrkit: exit ${result.exitCode}, ${result.exits} exits, ${result.interrupts} interrupts, ${result.wallSeconds.toFixed(3)} s, ` +
              `state ${result.stateHash.toString(16).padStart(16, '0')}\n`,
          );
        }
        process.exitCode = result.exitCode;
        return;
      }
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
      if (error instanceof EmuGuestError || error instanceof KvmGuestError) {
        process.stderr.write(`rrkit: ${error.message}\n`);
        process.exitCode = error.result.outcome === 'timeout' ? 124 : 1;
        return;
      }
      throw error;
    }
  },
};
