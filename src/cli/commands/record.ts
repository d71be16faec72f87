/** `rrkit record`: run a guest with its real inputs and write the record log. */
import { stat } from 'node:fs/promises';
import type { Argv, CommandModule } from 'yargs';
import { RunFailure, totalLandmarks } from '../../engines/engine.js';
import { ENGINE_NAMES, engineNamed } from '../../engines/index.js';
import { record, WALL_SAMPLE_US } from '../../session/record.js';
import { CREW_DEFAULT_GRANULARITY, CREW_DEFAULT_HOLD, CREW_MAX_HOLD, checkCrewGranularity, checkCrewHold } from '../../smp/crew-options.js';
import { checkOption, UsageError } from '../errors.js';
import { ProgressLine } from '../progress.js';
import { checkDiskOption, checkRamMiB, checkTimeout, checkVcpus, guestAndEngine, maxVcpusHelp, readConsoleInput } from '../machine-args.js';

interface RecordArgs {
  guest: string;
  output: string;
  engine: string | undefined;
  disk: string | undefined;
  'disk-shared': boolean;
  vcpus: number;
  ram: number | undefined;
  input: string | undefined;
  'checkpoint-every': number | undefined;
  timeout: number;
  'crew-granularity': number | undefined;
  'crew-hold': number | undefined;
  'wall-samples': boolean;
  'wall-sample-us': number | undefined;
}

export const recordCommand: CommandModule<object, RecordArgs> = {
  command: 'record <guest>',
  describe: 'run a guest with its real inputs and log them (RUN.rrlog)',
  builder: (y: Argv) =>
    y
      .positional('guest', { type: 'string', demandOption: true, describe: 'built-in workload name or ELF path' })
      .option('output', { alias: 'o', type: 'string', demandOption: true, describe: 'the log to write' })
      .option('engine', {
        choices: ENGINE_NAMES,
        describe: 'execution engine (default: by the ELF machine type; emu for built-in workloads, kvm for one that reads a disk)',
      })
      .option('disk', { type: 'string', describe: "kvm: a disk image for the board's block device; the bytes the guest reads are logged" })
      .option('disk-shared', {
        type: 'boolean',
        default: false,
        describe: "with --disk: log where the guest's disk reads came from, not their bytes (the replay reads its own copy of the image)",
      })
      .option('vcpus', { type: 'number', default: 1, describe: `vCPUs (${maxVcpusHelp()})` })
      .option('ram', { type: 'number', describe: 'guest RAM in MiB (default: the engine\'s, 128 on emu)' })
      .option('input', { type: 'string', describe: 'console input: a file, or - for stdin' })
      .option('checkpoint-every', {
        type: 'number',
        describe:
          `a checkpoint (register and memory hashes) every N landmarks of vCPU 0; 0: none ` +
          `(default: ${engineNamed('emu').defaultCheckpointInterval} instructions on emu, ${engineNamed('kvm').defaultCheckpointInterval} exits on kvm)`,
      })
      .option('crew-granularity', {
        type: 'number',
        describe: `bytes per CREW ownership page with --vcpus > 1 (a power of two, 64..2097152; default ${CREW_DEFAULT_GRANULARITY})`,
      })
      .option('crew-hold', {
        type: 'number',
        describe: `with --vcpus > 1: instructions a vCPU keeps a page it gained before yielding it (0..${CREW_MAX_HOLD}; default ${CREW_DEFAULT_HOLD})`,
      })
      .option('wall-samples', {
        type: 'boolean',
        default: false,
        describe: 'keep wall-clock samples in the log (each vCPU\'s landmark and host time, its page waits, cuts and sleeps) for `rrkit log timeline --wall`',
      })
      .option('wall-sample-us', {
        type: 'number',
        describe: `with --wall-samples: µs between samples of a running vCPU (${WALL_SAMPLE_US.min}..${WALL_SAMPLE_US.max}; default ${WALL_SAMPLE_US.default})`,
      })
      .option('timeout', { type: 'number', default: 0, describe: 'stop the guest after this many seconds (0: never)' })
      .example('$0 record timer-ticks -o ticks.rrlog', 'record, then `rrkit verify ticks.rrlog`')
      .example('$0 record lock-counter --vcpus 2 -o lock.rrlog', 'record 2 vCPUs, their sharing ordered by CREW')
      .example('$0 record disk-checksum --disk disk.img --disk-shared -o disk.rrlog', 'on kvm; the replay reads disk.img itself') as unknown as Argv<RecordArgs>,
  handler: async (args) => {
    const every = args['checkpoint-every'];
    if (every !== undefined && (!Number.isSafeInteger(every) || every < 0))
      throw new UsageError(`--checkpoint-every must be a non-negative integer, not ${every}`);
    if (args['disk-shared'] && args.disk === undefined) throw new UsageError('--disk-shared needs --disk FILE');
    const granularity = checkOption('--crew-granularity', args['crew-granularity'], checkCrewGranularity);
    const hold = checkOption('--crew-hold', args['crew-hold'], checkCrewHold);
    if (args['wall-sample-us'] !== undefined && !args['wall-samples']) throw new UsageError('--wall-sample-us needs --wall-samples');
    const wallSampleUs = args['wall-samples'] ? (args['wall-sample-us'] ?? WALL_SAMPLE_US.default) : undefined;
    if (wallSampleUs !== undefined && (!Number.isInteger(wallSampleUs) || wallSampleUs < WALL_SAMPLE_US.min || wallSampleUs > WALL_SAMPLE_US.max)) {
      throw new UsageError(`--wall-sample-us must be an integer from ${WALL_SAMPLE_US.min} to ${WALL_SAMPLE_US.max}, not ${wallSampleUs}`);
    }
    const { image, engine } = await guestAndEngine(args.guest, args.engine, args.disk !== undefined);
    checkDiskOption(args.disk, engine);
    const vcpus = checkVcpus(args.vcpus, engine);
    const ramMiB = args.ram === undefined ? undefined : checkRamMiB(args.ram);
    const timeoutSeconds = checkTimeout(args.timeout);
    const input = await readConsoleInput(args.input);
    const progress = new ProgressLine(`recording ${args.output}`, true);
    try {
      const result = await record({
        elf: image,
        engine: engine.name,
        logPath: args.output,
        vcpus,
        ramMiB,
        timeoutSeconds,
        input,
        checkpointInterval: every === undefined ? undefined : BigInt(every),
        disk: args.disk,
        diskShared: args['disk-shared'],
        crewGranularity: granularity,
        crewHold: hold,
        wallSampleUs,
        onProgress: progress.onProgress,
      }).finally(() => progress.end());
      const bytes = (await stat(args.output)).size;
      process.stderr.write(
        `rrkit: recorded ${args.output}: ${totalLandmarks(result)} ${engine.landmarkUnit} in ${result.wallSeconds.toFixed(3)} s, ` +
          `log ${bytes} bytes, exit code ${result.exitCode}\n`,
      );
      process.exitCode = result.exitCode;
    } catch (error) {
      if (error instanceof RunFailure) {
        process.stderr.write(`rrkit: ${error.message} (the log ${args.output} is incomplete)\n`);
        process.exitCode = error.result.outcome === 'timeout' ? 124 : 1;
        return;
      }
      throw error;
    }
  },
};
