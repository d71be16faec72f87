/** `rrkit record`: run a guest with its real inputs and write the record log. */
import { stat } from 'node:fs/promises';
import type { Argv, CommandModule } from 'yargs';
import { EMU_DEFAULT_RAM_MIB, EMU_MAX_HARTS, EmuGuestError } from '../../engines/emu.js';
import { resolveGuest } from '../../guests/catalog.js';
import { DEFAULT_CHECKPOINT_INTERVAL, record } from '../../uniprocessor/record.js';
import { CREW_DEFAULT_GRANULARITY, CREW_DEFAULT_HOLD, CREW_MAX_HOLD, checkCrewGranularity, checkCrewHold } from '../../smp/crew-options.js';
import { checkOption, UsageError } from '../errors.js';
import { ProgressLine } from '../progress.js';
import { checkEngineAvailable, checkRamMiB, checkTimeout, checkVcpus, readConsoleInput } from '../machine-args.js';

interface RecordArgs {
  guest: string;
  output: string;
  engine: 'emu' | 'kvm';
  vcpus: number;
  ram: number;
  input: string | undefined;
  'checkpoint-every': number;
  timeout: number;
  'crew-granularity': number | undefined;
  'crew-hold': number | undefined;
}

export const recordCommand: CommandModule<object, RecordArgs> = {
  command: 'record <guest>',
  describe: 'run a guest with its real inputs and log them (RUN.rrlog)',
  builder: (y: Argv) =>
    y
      .positional('guest', { type: 'string', demandOption: true, describe: 'built-in workload name or ELF path' })
      .option('output', { alias: 'o', type: 'string', demandOption: true, describe: 'the log to write' })
      .option('engine', { choices: ['emu', 'kvm'] as const, default: 'emu' as const, describe: 'execution engine' })
      .option('vcpus', { type: 'number', default: 1, describe: `vCPUs (1..${EMU_MAX_HARTS})` })
      .option('ram', { type: 'number', default: EMU_DEFAULT_RAM_MIB, describe: 'guest RAM in MiB' })
      .option('input', { type: 'string', describe: 'console input: a file, or - for stdin' })
      .option('checkpoint-every', {
        type: 'number',
        default: Number(DEFAULT_CHECKPOINT_INTERVAL),
        describe: 'a checkpoint (register and memory hashes) every N instructions of vCPU 0; 0: none',
      })
      .option('crew-granularity', {
        type: 'number',
        describe: `bytes per CREW ownership page with --vcpus > 1 (a power of two, 64..2097152; default ${CREW_DEFAULT_GRANULARITY})`,
      })
      .option('crew-hold', {
        type: 'number',
        describe: `with --vcpus > 1: instructions a vCPU keeps a page it gained before yielding it (0..${CREW_MAX_HOLD}; default ${CREW_DEFAULT_HOLD})`,
      })
      .option('timeout', { type: 'number', default: 0, describe: 'stop the guest after this many seconds (0: never)' })
      .example('$0 record timer-ticks -o ticks.rrlog', 'record, then `rrkit verify ticks.rrlog`')
      .example('$0 record lock-counter --vcpus 2 -o lock.rrlog', 'record 2 vCPUs, their sharing ordered by CREW') as unknown as Argv<RecordArgs>,
  handler: async (args) => {
    checkEngineAvailable(args.engine);
    const every = args['checkpoint-every'];
    if (!Number.isSafeInteger(every) || every < 0) throw new UsageError(`--checkpoint-every must be a non-negative integer, not ${every}`);
    const granularity = checkOption('--crew-granularity', args['crew-granularity'], checkCrewGranularity);
    const hold = checkOption('--crew-hold', args['crew-hold'], checkCrewHold);
    const elf = resolveGuest(args.guest, 'rv64');
    const progress = new ProgressLine(`recording ${args.output}`, true);
    try {
      const result = await record({
        elf,
        logPath: args.output,
        vcpus: checkVcpus(args.vcpus),
        ramMiB: checkRamMiB(args.ram),
        timeoutSeconds: checkTimeout(args.timeout),
        input: await readConsoleInput(args.input),
        checkpointInterval: BigInt(every),
        crewGranularity: granularity,
        crewHold: hold,
        onProgress: progress.onProgress,
      }).finally(() => progress.end());
      const instructions = result.harts.reduce((sum, h) => sum + h.instret, 0n);
      const bytes = (await stat(args.output)).size;
      process.stderr.write(
        `rrkit: recorded ${args.output}: ${instructions} instructions in ${result.wallSeconds.toFixed(3)} s, ` +
          `log ${bytes} bytes, exit code ${result.exitCode}\n`,
      );
      process.exitCode = result.exitCode;
    } catch (error) {
      if (error instanceof EmuGuestError) {
        process.stderr.write(`rrkit: ${error.message} (the log ${args.output} is incomplete)\n`);
        process.exitCode = error.result.outcome === 'timeout' ? 124 : 1;
        return;
      }
      throw error;
    }
  },
};
