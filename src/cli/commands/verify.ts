/**
 * `rrkit verify`: replay a log and check it against the recording — every checkpoint's
 * register and memory hashes, the console output, the exit code and the final state.
 * Exit status 0 when identical, 1 at the first divergence, 2 for a bad log or usage.
 * `--timeline OUT` writes the timeline around a divergence (from the last cut before it to
 * the first after it), with the divergence marked, for a look in Perfetto or a browser.
 */
import type { Argv, CommandModule } from 'yargs';
import { toJsonSafe } from '../../analysis/log-dump.js';
import { formatDivergence, type DivergenceReport } from '../../analysis/divergence.js';
import { divergenceMark, windowAround } from '../../analysis/timeline/divergence-window.js';
import { writeTimeline } from '../../analysis/timeline/timeline-file.js';
import { LogFormatError } from '../../analysis/log-error.js';
import { verify, type Verification } from '../../session/verify.js';
import { ProgressLine } from '../progress.js';

interface VerifyArgs {
  log: string;
  guest: string | undefined;
  disk: string | undefined;
  json: boolean;
  timeline: string | undefined;
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

export const verifyCommand: CommandModule<object, VerifyArgs> = {
  command: 'verify <log>',
  describe: 'replay a log and check every checkpoint; exit 0 if identical, 1 at the first divergence',
  builder: (y: Argv) =>
    y
      .positional('log', { type: 'string', demandOption: true, describe: 'the log (RUN.rrlog)' })
      .option('guest', { type: 'string', describe: 'the guest ELF, when not at the path recorded in the log' })
      .option('disk', { type: 'string', describe: 'a log recorded with --disk-shared: the disk image, when not at the path recorded in the log' })
      .option('json', { type: 'boolean', default: false, describe: 'one JSON object on stdout, for tools' })
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
      const progress = new ProgressLine(`verifying ${args.log}`, false);
      verification = await verify({ logPath: args.log, elf: args.guest, disk: args.disk, onProgress: progress.onProgress }).finally(() => progress.end());
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      report({ verdict: 'error', error: message, ...(error instanceof LogFormatError ? { code: error.code, chunk: error.chunk, offset: error.offset } : {}) }, message);
      process.exitCode = 2;
      return;
    }
    const v = verification.verdict;
    switch (v.verdict) {
      case 'identical': {
        report(
          { verdict: v.verdict, checkpoints: v.checkpoints, [v.landmarkUnit]: v.landmarks, exitCode: v.exitCode, consoleBytes: v.consoleBytes, stateHash: v.stateHash },
          `identical: ${v.checkpoints} checkpoints, ${v.landmarks} ${v.landmarkUnit}, console output (${v.consoleBytes} bytes), ` +
            `exit code ${v.exitCode} and final state ${v.stateHash.toString(16).padStart(16, '0')}` +
            (args.timeline === undefined ? '' : ' (no divergence: no timeline written)'),
        );
        process.exitCode = 0;
        return;
      }
      case 'incomplete': {
        const timeline = v.endedAt === undefined ? { fields: {}, line: '' } : divergenceTimeline(args, v.endedAt);
        report(
          { verdict: v.verdict, checkpoints: v.checkpoints, endedAt: v.endedAt, ...timeline.fields },
          `the log is incomplete (no trailer): checked ${v.checkpoints} checkpoints as far as its sealed chunks reach` +
            (v.endedAt ? `, up to vcpu ${v.endedAt.vcpu} @ ${v.endedAt.count}` : '') +
            timeline.line,
        );
        process.exitCode = 1;
        return;
      }
      case 'diverged': {
        const timeline = divergenceTimeline(args, v.report);
        report({ verdict: v.verdict, ...v.report, ...timeline.fields }, formatDivergence(v.report) + timeline.line);
        process.exitCode = 1;
        return;
      }
    }
  },
};
