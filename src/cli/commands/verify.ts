/**
 * `rrkit verify`: replay a log and check it against the recording — every checkpoint's
 * register and memory hashes, the console output, the exit code and the final state.
 * Exit status 0 when identical, 125 at the first divergence, 123 for an incomplete log, 120
 * for a damaged log or a wrong image, 119 for bad usage (src/cli/exit-status.ts).
 * `--timeline OUT` writes the timeline around a divergence (from the last cut before it to
 * the first after it), with the divergence marked, for a look in Perfetto or a browser.
 * `--shuffle N` replays N more times under shuffled host schedules, each of which must
 * agree: a log that leaves an order to the host diverges under some of them.
 */
import type { Argv, CommandModule } from 'yargs';
import { toJsonSafe } from '../../analysis/log-dump.js';
import { formatDivergence, type DivergenceReport } from '../../analysis/divergence.js';
import { divergenceMark, windowAround } from '../../analysis/timeline/divergence-window.js';
import { writeTimeline } from '../../analysis/timeline/timeline-file.js';
import { LogFormatError } from '../../analysis/log-error.js';
import { MAX_SHUFFLE_SEED } from '../../engines/native-arguments.js';
import { verify, type Verification } from '../../session/verify.js';
import { checkThreads, THREADS_OPTION } from '../machine-args.js';
import { UsageError } from '../errors.js';
import { numberOption } from '../number-option.js';
import { EXIT, exitStatusOf } from '../exit-status.js';
import { ProgressLine } from '../progress.js';
import { describeReached } from './replay.js';

interface VerifyArgs {
  log: string;
  guest: string | undefined;
  disk: string | undefined;
  json: boolean;
  threads: string | undefined;
  timeline: string | undefined;
  shuffle: string | undefined;
  seed: string | undefined;
}

/** The timeline around `report` in `out` (HTML when it ends in .html): what to add to the report, never a failure of verify. */
function divergenceTimeline(args: VerifyArgs, report: DivergenceReport): { fields: object; line: string } {
  if (args.timeline === undefined) return { fields: {}, line: '' };
  try {
    const written = writeTimeline({
      logPath: args.log,
      outPath: args.timeline,
      format: args.timeline.endsWith('.html') ? 'html' : 'json',
      guest: args.guest,
      window: windowAround(args.log, report),
      marks: [divergenceMark(report)],
    });
    return { fields: { timeline: written.path }, line: `; the timeline around it is in ${written.path}` };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return { fields: { timelineError: message }, line: `; no timeline: ${message}` };
  }
}

/** Where an incomplete log ends, marked on its timeline as a divergence is (on vCPU 0's axis). */
function endOfLog(reached: readonly bigint[]): DivergenceReport {
  const count = reached[0] ?? 0n;
  return { vcpu: 0, count, what: 'the log ends', expected: 'more log', actual: 'no trailer', summary: `the incomplete log ends at vcpu 0 @ ${count}` };
}

export const verifyCommand: CommandModule<object, VerifyArgs> = {
  command: 'verify <log>',
  describe: `replay a log and check every checkpoint; exit 0 if identical, ${EXIT.diverged} at the first divergence, ${EXIT.incomplete} for an incomplete log`,
  builder: (y: Argv) =>
    y
      .positional('log', { type: 'string', demandOption: true, describe: 'the log (RUN.rrlog)' })
      .option('guest', { type: 'string', describe: 'the guest ELF, when not at the path recorded in the log' })
      .option('disk', { type: 'string', describe: 'a log recorded with --disk-shared: the disk image, when not at the path recorded in the log' })
      .option('json', { type: 'boolean', default: false, describe: 'one JSON object on stdout, for tools' })
      .option('threads', THREADS_OPTION)
      .option('shuffle', {
        type: 'string',
        describe:
          'then replay RUNS more times under shuffled host schedules (emu: slice lengths, hand-over and wake-up orders, ' +
          'every other one on 1 thread; kvm: pauses after gates); each must agree, or the log leaves an order to the host (default 0)',
      })
      .option('seed', { type: 'string', describe: 'with --shuffle: the first shuffled replay\'s seed, the next ones counting up (default 1)' })
      .option('timeline', {
        type: 'string',
        describe: 'at a divergence, write the timeline around it here (OUT.json for Perfetto, OUT.html for a page)',
      }) as unknown as Argv<VerifyArgs>,
  handler: async (args) => {
    const report = (value: object, line: string): void => {
      if (args.json) process.stdout.write(`${JSON.stringify(toJsonSafe(value))}\n`);
      else process.stderr.write(`rrkit: ${line}\n`);
    };
    let verification: Verification;
    try {
      const threads = checkThreads(args.threads);
      const runs = numberOption('--shuffle', args.shuffle, { integer: true, min: 0, max: 10_000 }) ?? 0;
      const firstSeed = numberOption('--seed', args.seed, { integer: true, min: 1, max: MAX_SHUFFLE_SEED - runs }) ?? 1;
      if (args.seed !== undefined && runs === 0) throw new UsageError('--seed needs --shuffle');
      const progress = new ProgressLine(`verifying ${args.log}${runs === 0 ? '' : ` (then ${runs} shuffled replays)`}`, false);
      verification = await verify(
        { logPath: args.log, elf: args.guest, disk: args.disk, threads, onProgress: progress.onProgress },
        { runs, firstSeed },
      ).finally(() => progress.end());
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      report({ verdict: 'error', error: message, ...(error instanceof LogFormatError ? { code: error.code, chunk: error.chunk, offset: error.offset } : {}) }, message);
      process.exitCode = exitStatusOf(error);
      return;
    }
    const v = verification.verdict;
    const shuffled = verification.shuffled;
    const shuffledFields = shuffled === undefined ? {} : { shuffled };
    switch (v.verdict) {
      case 'identical': {
        report(
          { verdict: v.verdict, checkpoints: v.checkpoints, [v.landmarkUnit]: v.landmarks, exitCode: v.exitCode, consoleBytes: v.consoleBytes, stateHash: v.stateHash, ...shuffledFields },
          `identical: ${v.checkpoints} checkpoints, ${v.landmarks} ${v.landmarkUnit}, console output (${v.consoleBytes} bytes), ` +
            `exit code ${v.exitCode} and final state ${v.stateHash.toString(16).padStart(16, '0')}` +
            (shuffled === undefined ? '' : `; the same under ${shuffled.runs} shuffled schedules`) +
            (args.timeline === undefined ? '' : ' (no divergence: no timeline written)'),
        );
        process.exitCode = EXIT.ok;
        return;
      }
      case 'incomplete': {
        const timeline = divergenceTimeline(args, endOfLog(v.reached));
        report(
          { verdict: v.verdict, checkpoints: v.checkpoints, reached: v.reached, ...shuffledFields, ...timeline.fields },
          `the log is incomplete (no trailer): replayed as far as it vouches, ${describeReached(v.reached, v.landmarkUnit)}, ` +
            `and checked ${v.checkpoints} checkpoints on the way, all identical` +
            (shuffled === undefined ? '' : `; the same under ${shuffled.runs} shuffled schedules`) +
            timeline.line,
        );
        process.exitCode = EXIT.incomplete;
        return;
      }
      case 'diverged': {
        const timeline = divergenceTimeline(args, v.report);
        const disagreed = shuffled?.disagreed;
        const under =
          disagreed === undefined
            ? ''
            : `under shuffled schedule ${shuffled?.runs} (seed ${disagreed.seed}, ${disagreed.threads === undefined ? "the host's cores" : `${disagreed.threads} thread${disagreed.threads === 1 ? '' : 's'}`}), ` +
              'after an identical first replay: the log leaves an order to the host (docs/crew.md, "Shuffled replays"): ';
        report({ verdict: v.verdict, ...v.report, ...shuffledFields, ...timeline.fields }, under + formatDivergence(v.report) + timeline.line);
        process.exitCode = EXIT.diverged;
        return;
      }
    }
  },
};
