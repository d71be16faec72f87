/** `rrkit record`: run a guest with its real inputs and write the record log. */
import { stat } from 'node:fs/promises';
import type { Argv, CommandModule } from 'yargs';
import { EMU_DEFAULT_RAM_MIB, EMU_MAX_HARTS, EmuGuestError } from '../../engines/emu.js';
import { KvmGuestError } from '../../engines/kvm.js';
import { DEFAULT_CHECKPOINT_INTERVAL, DEFAULT_KVM_CHECKPOINT_INTERVAL, record, recordKvm } from '../../uniprocessor/record.js';
import { CREW_DEFAULT_GRANULARITY, CREW_DEFAULT_HOLD, CREW_MAX_HOLD, checkCrewGranularity, checkCrewHold } from '../../smp/crew-options.js';
import { checkOption, UsageError } from '../errors.js';
import { ProgressLine } from '../progress.js';
import { checkEngineAvailable, checkRamMiB, checkTimeout, checkVcpusForEngine, chooseGuest, readConsoleInput } from '../machine-args.js';

interface RecordArgs {
  guest: string;
  output: string;
  engine: 'emu' | 'kvm' | undefined;
  disk: string | undefined;
  'disk-shared': boolean;
  vcpus: number;
  ram: number;
  input: string | undefined;
  'checkpoint-every': number | undefined;
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
      .option('engine', {
        choices: ['emu', 'kvm'] as const,
        describe: "execution engine (default: the ELF's machine type; for a built-in name emu, or kvm when it needs a disk)",
      })
      .option('disk', { type: 'string', describe: "kvm: a disk image for the board's block device; the bytes the guest reads are logged" })
      .option('disk-shared', {
        type: 'boolean',
        default: false,
        describe: "with --disk: log where the guest's disk reads came from, not their bytes (the replay reads its own copy of the image)",
      })
      .option('vcpus', { type: 'number', default: 1, describe: `vCPUs (1..${EMU_MAX_HARTS})` })
      .option('ram', { type: 'number', default: EMU_DEFAULT_RAM_MIB, describe: 'guest RAM in MiB' })
      .option('input', { type: 'string', describe: 'console input: a file, or - for stdin' })
      .option('checkpoint-every', {
        type: 'number',
        describe:
          `a checkpoint (register and memory hashes) every N landmarks of vCPU 0 — instructions on emu ` +
          `(default ${DEFAULT_CHECKPOINT_INTERVAL}), exits on kvm (default ${DEFAULT_KVM_CHECKPOINT_INTERVAL}); 0: none`,
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
    const { engine, elf } = chooseGuest(args.guest, args.engine, args.disk !== undefined);
    if (args.disk !== undefined && engine !== 'kvm') throw new UsageError("--disk: only the kvm engine's board has a block device");
    if (args['disk-shared'] && args.disk === undefined) throw new UsageError('--disk-shared needs --disk FILE');
    const every = args['checkpoint-every'];
    if (every !== undefined && (!Number.isSafeInteger(every) || every < 0))
      throw new UsageError(`--checkpoint-every must be a non-negative integer, not ${every}`);
    const granularity = checkOption('--crew-granularity', args['crew-granularity'], checkCrewGranularity);
    const hold = checkOption('--crew-hold', args['crew-hold'], checkCrewHold);
    const vcpus = checkVcpusForEngine(engine, args.vcpus);
    const ramMiB = checkRamMiB(args.ram);
    const timeoutSeconds = checkTimeout(args.timeout);
    const input = await readConsoleInput(args.input);
    checkEngineAvailable(engine);
    const progress = new ProgressLine(`recording ${args.output}`, true);
    try {
      const common = { elf, logPath: args.output, ramMiB, timeoutSeconds, input };
      const { landmarks, unit, wallSeconds, exitCode } =
        engine === 'kvm'
          ? await recordKvm({
              ...common,
              disk: args.disk,
              diskShared: args['disk-shared'],
              checkpointInterval: every === undefined ? undefined : BigInt(every),
              onProgress: progress.onKvmProgress,
            })
              .finally(() => progress.end())
              .then((r) => ({ landmarks: r.exits, unit: 'exits', wallSeconds: r.wallSeconds, exitCode: r.exitCode }))
          : await record({
              ...common,
              vcpus,
              checkpointInterval: every === undefined ? undefined : BigInt(every),
              crewGranularity: granularity,
              crewHold: hold,
              onProgress: progress.onProgress,
            })
              .finally(() => progress.end())
              .then((r) => ({
                landmarks: r.harts.reduce((sum, h) => sum + h.instret, 0n),
                unit: 'instructions',
                wallSeconds: r.wallSeconds,
                exitCode: r.exitCode,
              }));
      const bytes = (await stat(args.output)).size;
      process.stderr.write(
        `rrkit: recorded ${args.output}: ${landmarks} ${unit} in ${wallSeconds.toFixed(3)} s, ` +
          `log ${bytes} bytes, exit code ${exitCode}\n`,
      );
      process.exitCode = exitCode;
    } catch (error) {
      if (error instanceof EmuGuestError || error instanceof KvmGuestError) {
        process.stderr.write(`rrkit: ${error.message} (the log ${args.output} is incomplete)\n`);
        process.exitCode = error.result.outcome === 'timeout' ? 124 : 1;
        return;
      }
      throw error;
    }
  },
};
