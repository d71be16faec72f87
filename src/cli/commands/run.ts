/** `rrkit run`: a plain run of a guest on an engine, nothing logged. */
import type { Argv, CommandModule } from 'yargs';
import { GuestFailure, totalLandmarks } from '../../engines/engine.js';
import { ENGINE_NAMES } from '../../engines/index.js';
import { runGuest } from '../../session/run.js';
import { EXIT, guestCodeNote, guestExitStatus } from '../exit-status.js';
import {
  checkDiskOption,
  checkRamMiB,
  checkThreads,
  checkTimeout,
  checkVcpus,
  guestAndEngine,
  maxVcpusHelp,
  openConsoleInput,
  THREADS_OPTION,
} from '../machine-args.js';

interface RunArgs {
  engine: string | undefined;
  disk: string | undefined;
  vcpus: string | undefined;
  ram: string | undefined;
  timeout: string | undefined;
  input: string | undefined;
  guest: string;
  stats: boolean;
  threads: string | undefined;
}

export const runCommand: CommandModule<object, RunArgs> = {
  command: 'run <guest>',
  describe: 'run a guest (a built-in workload name or an ELF path), nothing logged',
  builder: (y: Argv) =>
    y
      .positional('guest', { type: 'string', demandOption: true, describe: 'built-in workload name or ELF path' })
      .option('engine', {
        choices: ENGINE_NAMES,
        describe: 'execution engine (default: by the ELF machine type; emu for built-in workloads, kvm for one that reads a disk)',
      })
      .option('disk', { type: 'string', describe: "kvm: a disk image for the board's block device (`rrkit guest disk`)" })
      .option('vcpus', { type: 'string', describe: `vCPUs (${maxVcpusHelp()}; default 1)` })
      .option('ram', { type: 'string', describe: 'guest RAM in MiB (default: the engine\'s, 128 on emu)' })
      .option('timeout', { type: 'string', describe: 'stop the guest after this many seconds (default 0: never)' })
      .option('input', { type: 'string', describe: 'console input: a regular file (read as the guest asks), or - for stdin' })
      .option('threads', THREADS_OPTION)
      .option('stats', { type: 'boolean', default: false, describe: 'print landmark counts (instructions on emu) and their rate to stderr' })
      .example('$0 run --engine emu --vcpus 4 matmul', '')
      .example('$0 run disk-checksum --disk disk.img', 'on kvm: a disk read by DMA') as unknown as Argv<RunArgs>,
  handler: async (args) => {
    const timeoutSeconds = checkTimeout(args.timeout);
    const ramMiB = checkRamMiB(args.ram);
    const { image, engine } = await guestAndEngine(args.guest, args.engine, args.disk !== undefined);
    checkDiskOption(args.disk, engine);
    const vcpus = checkVcpus(args.vcpus, engine);
    const threads = checkThreads(args.threads);
    const consoleInput = openConsoleInput(args.input);
    try {
      const disk = args.disk === undefined ? undefined : { path: args.disk, sectors: 0, shared: false };
      const result = await runGuest({ elf: image, engine: engine.name, vcpus, ramMiB, timeoutSeconds, input: consoleInput.input, disk, threads });
      if (args.stats) {
        const counts = result.vcpus.map((v) => v.landmark);
        const perSecond = Number(totalLandmarks(result)) / result.wallSeconds / 1e6;
        const rate = engine.landmarkUnit === 'instructions' ? 'MIPS' : `M ${engine.landmarkUnit}/s`;
        const precision = engine.landmarkUnit === 'instructions' ? 0 : 4;
        process.stderr.write(
          `rrkit: exit ${result.exitCode}, ${engine.landmarkUnit} ${counts.join(' ')}, ${result.wallSeconds.toFixed(3)} s, ` +
            `${perSecond.toFixed(precision)} ${rate}, state ${result.stateHash.toString(16).padStart(16, '0')}\n`,
        );
      }
      const note = guestCodeNote(result.exitCode);
      if (note !== undefined) process.stderr.write(`rrkit: note: ${note}\n`);
      process.exitCode = guestExitStatus(result.exitCode);
    } catch (error) {
      if (error instanceof GuestFailure) {
        process.stderr.write(`rrkit: ${error.message}\n`);
        process.exitCode = error.result.outcome === 'timeout' ? EXIT.timeout : EXIT.guestFault;
        return;
      }
      throw error;
    } finally {
      consoleInput.close();
    }
  },
};
