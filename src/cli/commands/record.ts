/** `rrkit record`: run a guest with its real inputs and write the record log. */
import { statSync, unlinkSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { GuestFailure, Interrupted, RunFailure, totalLandmarks, type RunResult } from '../../engines/engine.js';
import { ENGINE_NAMES, engineNamed } from '../../engines/index.js';
import type { Engine } from '../../engines/engine.js';
import { printable } from '../../files/printable.js';
import { record, WALL_SAMPLE_US, type RecordResult } from '../../session/record.js';
import { CREW_DEFAULT_GRANULARITY, CREW_DEFAULT_HOLD, CREW_MAX_HOLD, checkCrewGranularity, checkCrewHold } from '../../smp/crew-options.js';
import { checkOption, UsageError } from '../errors.js';
import { EXIT, guestCodeNote, guestExitStatus } from '../exit-status.js';
import { InterruptWatch } from '../interrupts.js';
import { numberOption } from '../number-option.js';
import { ProgressLine } from '../progress.js';
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
import { checkSerialOptions, SERIAL_DEFAULTS } from '../../smp/serial-options.js';

interface RecordArgs {
  guest: string;
  output: string;
  force: boolean;
  engine: string | undefined;
  disk: string | undefined;
  'disk-shared': boolean;
  vcpus: string | undefined;
  ram: string | undefined;
  input: string | undefined;
  'checkpoint-every': string | undefined;
  timeout: string | undefined;
  'crew-granularity': string | undefined;
  'crew-hold': string | undefined;
  'serialize-above': string | undefined;
  'turn-quantum': string | undefined;
  threads: string | undefined;
  'wall-samples': boolean;
  'wall-sample-us': string | undefined;
}

/**
 * `--checkpoint-every` as typed: undefined (the engine's default), 0 (none) or at least the
 * engine's minimum (a checkpoint hashes the registers and the written guest memory and logs
 * ~19 bytes per vCPU: `--checkpoint-every 1` on emu was 19 bytes per instruction). The
 * session API takes any interval (tests check every few instructions).
 */
function checkpointInterval(raw: string | undefined, engine: Engine): bigint | undefined {
  const every = numberOption('--checkpoint-every', raw, { integer: true, min: 0, max: Number.MAX_SAFE_INTEGER, unit: 'landmarks; 0: none' });
  if (every === undefined) return undefined;
  if (every !== 0 && BigInt(every) < engine.minCheckpointInterval) {
    throw new UsageError(
      `--checkpoint-every must be 0 (none) or at least ${engine.minCheckpointInterval} on ${engine.name}, not ${every}: ` +
        `each checkpoint hashes the guest's memory and logs ~19 bytes per vCPU`,
    );
  }
  return BigInt(every);
}

/**
 * A recording whose guest takes interrupts this often (and this many) says so: each one is
 * logged, so a timer period shorter than the guest's handler takes here grows the log by
 * megabytes a minute while the guest crawls.
 */
const INTERRUPT_STORM = { perSecond: 10_000, atLeast: 50_000 };

function interruptStormWarning(result: RunResult): string | undefined {
  const rate = result.interrupts / Math.max(result.wallSeconds, 1e-3);
  if (result.interrupts < INTERRUPT_STORM.atLeast || rate < INTERRUPT_STORM.perSecond) return undefined;
  return (
    `warning: the guest took ${result.interrupts} interrupts in ${result.wallSeconds.toFixed(1)} s (${Math.round(rate)} per second), ` +
    'each one logged: its timer period is shorter than its handler takes here, and the log grows with every interrupt'
  );
}

/** What the log holds, for the summary line. */
function describePlacement(result: RecordResult, output: string): string {
  const replaced = result.log.replaced ? ` (replaced the previous ${printable(output)})` : '';
  const beside = result.log.beside ? ` (${printable(output)} appeared while recording and was left as it was)` : '';
  return `${printable(result.log.path)}${replaced}${beside}`;
}

export const recordCommand: CommandModule<object, RecordArgs> = {
  command: 'record <guest>',
  describe: 'run a guest with its real inputs and log them (RUN.rrlog)',
  builder: (y: Argv) =>
    y
      .positional('guest', { type: 'string', demandOption: true, describe: 'built-in workload name or ELF path' })
      .option('output', {
        alias: 'o',
        type: 'string',
        demandOption: true,
        describe: 'the log to write; written beside it as OUT.recording and renamed when the recording ends (an incomplete log too, unless OUT exists)',
      })
      .option('force', {
        type: 'boolean',
        default: false,
        describe: 'replace an existing file at -o, once the new log is complete (a failed or interrupted recording never replaces it)',
      })
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
      .option('vcpus', { type: 'string', describe: `vCPUs (${maxVcpusHelp()}; default 1)` })
      .option('ram', { type: 'string', describe: 'guest RAM in MiB (default: the engine\'s, 128 on emu)' })
      .option('input', { type: 'string', describe: 'console input: a regular file (read as the guest asks), or - for stdin' })
      .option('checkpoint-every', {
        type: 'string',
        describe:
          `a checkpoint (register and memory hashes) every N landmarks of vCPU 0; 0: none ` +
          `(default: ${engineNamed('emu').defaultCheckpointInterval} instructions on emu, at least ${engineNamed('emu').minCheckpointInterval}; ` +
          `${engineNamed('kvm').defaultCheckpointInterval} exits on kvm, at least ${engineNamed('kvm').minCheckpointInterval})`,
      })
      .option('crew-granularity', {
        type: 'string',
        describe: `bytes per CREW ownership page with --vcpus > 1 (a power of two, 64..2097152; default ${CREW_DEFAULT_GRANULARITY})`,
      })
      .option('crew-hold', {
        type: 'string',
        describe: `with --vcpus > 1: instructions a vCPU keeps a page it gained before yielding it (0..${CREW_MAX_HOLD}; default ${CREW_DEFAULT_HOLD})`,
      })
      .option('serialize-above', {
        type: 'string',
        describe: `with --vcpus > 1: run vCPUs that trade a page more than N times per million of their instructions one at a time, logging their turns instead (0: never; default ${SERIAL_DEFAULTS.enterPerMillion})`,
      })
      .option('turn-quantum', {
        type: 'string',
        describe: `with --vcpus > 1: instructions per turn in serialized mode (default ${SERIAL_DEFAULTS.quantum})`,
      })
      .option('threads', THREADS_OPTION)
      .option('wall-samples', {
        type: 'boolean',
        default: false,
        describe: 'keep wall-clock samples in the log (each vCPU\'s landmark and host time, its page waits, cuts and sleeps) for `rrkit log timeline --wall`',
      })
      .option('wall-sample-us', {
        type: 'string',
        describe: `with --wall-samples: µs between samples of a running vCPU (${WALL_SAMPLE_US.min}..${WALL_SAMPLE_US.max}; default ${WALL_SAMPLE_US.default})`,
      })
      .option('timeout', { type: 'string', describe: 'stop the guest after this many seconds (default 0: never); the log is then incomplete' })
      .example('$0 record timer-ticks -o ticks.rrlog', 'record, then `rrkit verify ticks.rrlog`')
      .example('$0 record lock-counter --vcpus 2 -o lock.rrlog', 'record 2 vCPUs, their sharing ordered by CREW')
      .example('$0 record disk-checksum --disk disk.img --disk-shared -o disk.rrlog', 'on kvm; the replay reads disk.img itself') as unknown as Argv<RecordArgs>,
  handler: async (args) => {
    if (args['disk-shared'] && args.disk === undefined) throw new UsageError('--disk-shared needs --disk FILE');
    const granularity = checkOption(
      '--crew-granularity',
      numberOption('--crew-granularity', args['crew-granularity'], { integer: true, min: 0, max: Number.MAX_SAFE_INTEGER }),
      checkCrewGranularity,
    );
    const hold = checkOption('--crew-hold', numberOption('--crew-hold', args['crew-hold'], { integer: true, min: 0, max: CREW_MAX_HOLD }), checkCrewHold);
    const serializeAbove = checkOption(
      '--serialize-above',
      numberOption('--serialize-above', args['serialize-above'], { integer: true, min: 0, max: Number.MAX_SAFE_INTEGER }),
      (n) => checkSerialOptions({ enterPerMillion: n }),
    );
    const quantum = checkOption(
      '--turn-quantum',
      numberOption('--turn-quantum', args['turn-quantum'], { integer: true, min: 0, max: Number.MAX_SAFE_INTEGER, unit: 'instructions' }),
      (n) => checkSerialOptions({ quantum: n }),
    );
    const threads = checkThreads(args.threads);
    const timeoutSeconds = checkTimeout(args.timeout);
    const ramMiB = checkRamMiB(args.ram);
    if (args['wall-sample-us'] !== undefined && !args['wall-samples']) throw new UsageError('--wall-sample-us needs --wall-samples');
    const wallSampleUs = args['wall-samples']
      ? (numberOption('--wall-sample-us', args['wall-sample-us'], { integer: true, min: WALL_SAMPLE_US.min, max: WALL_SAMPLE_US.max, unit: 'µs' }) ??
        WALL_SAMPLE_US.default)
      : undefined;
    const { image, engine } = await guestAndEngine(args.guest, args.engine, args.disk !== undefined);
    checkDiskOption(args.disk, engine);
    const vcpus = checkVcpus(args.vcpus, engine);
    const every = checkpointInterval(args['checkpoint-every'], engine);
    const consoleInput = openConsoleInput(args.input);
    const partial = `${resolve(args.output)}.recording`;
    // A signal before the run started leaves nothing worth keeping: an empty partial log goes.
    const interrupts = new InterruptWatch(() => {
      try {
        if (statSync(partial).size === 0) unlinkSync(partial);
      } catch {
        // not created yet
      }
    });
    const progress = new ProgressLine(`recording ${printable(args.output)}`, true);
    try {
      const result = await record({
        elf: image,
        engine: engine.name,
        logPath: args.output,
        force: args.force,
        reads: consoleInput.reads,
        vcpus,
        ramMiB,
        timeoutSeconds,
        input: consoleInput.input,
        checkpointInterval: every,
        disk: args.disk,
        diskShared: args['disk-shared'],
        crewGranularity: granularity,
        crewHold: hold,
        serialize: {
          ...(serializeAbove === undefined ? {} : { enterPerMillion: serializeAbove }),
          ...(quantum === undefined ? {} : { quantum }),
        },
        threads,
        wallSampleUs,
        onProgress: progress.onProgress,
      }).finally(() => progress.end());
      const bytes = statSync(result.log.path).size;
      process.stderr.write(
        `rrkit: recorded ${describePlacement(result, args.output)}: ${totalLandmarks(result)} ${engine.landmarkUnit} in ${result.wallSeconds.toFixed(3)} s, ` +
          `log ${bytes} bytes, exit code ${result.exitCode}\n`,
      );
      const storm = interruptStormWarning(result);
      if (storm !== undefined) process.stderr.write(`rrkit: ${storm}\n`);
      const note = guestCodeNote(result.exitCode);
      if (note !== undefined) process.stderr.write(`rrkit: note: ${note}\n`);
      process.exitCode = guestExitStatus(result.exitCode);
    } catch (error) {
      if (!(error instanceof RunFailure)) throw error;
      const storm = interruptStormWarning(error.result);
      if (storm !== undefined) process.stderr.write(`rrkit: ${storm}\n`);
      const kept =
        error.incompleteLog === undefined
          ? 'no log was written'
          : `the log is incomplete, kept as ${printable(error.incompleteLog)}` +
            (error.incompleteLog === resolve(args.output) ? '' : ` (${printable(args.output)} exists and was left as it was)`);
      const landmarks = `${totalLandmarks(error.result)} ${engine.landmarkUnit}`;
      if (error instanceof Interrupted) {
        process.stderr.write(`rrkit: interrupted by ${interrupts.signal ?? 'a signal'} after ${landmarks}: ${kept}\n`);
        process.exitCode = interrupts.status;
        return;
      }
      process.stderr.write(`rrkit: ${error.message} (after ${landmarks}); ${kept}\n`);
      process.exitCode = error instanceof GuestFailure ? (error.result.outcome === 'timeout' ? EXIT.timeout : EXIT.guestFault) : EXIT.failed;
    } finally {
      consoleInput.close();
      interrupts.dispose();
    }
  },
};
