/** `rrkit log stats|dump|timeline RUN.rrlog`: read a log with the TypeScript reader. */
import type { Argv, CommandModule } from 'yargs';
import { parseLandmark, LandmarkWindow } from '../../analysis/timeline/timeline-filter.js';
import { writeTimeline } from '../../analysis/timeline/timeline-file.js';
import { dumpLogFile } from '../../analysis/log-dump.js';
import { printable } from '../../files/printable.js';
import { logFileStats, type LogStats } from '../../analysis/log-stats.js';
import { UsageError, checkOption } from '../errors.js';
import { StdoutWriter } from '../stdout-writer.js';

interface LogArgs {
  log: string;
  json: boolean;
  guest: string | undefined;
}

function withLogArgs(y: Argv): Argv<LogArgs> {
  return y
    .positional('log', { type: 'string', demandOption: true, describe: 'the .rrlog file' })
    .option('json', { type: 'boolean', default: false, describe: 'machine-readable output' })
    .option('guest', {
      type: 'string',
      describe: 'stats: the guest ELF whose variables name the hottest CREW pages, when not at the path recorded in the log',
    }) as unknown as Argv<LogArgs>;
}

const fixed = (n: number | null, digits = 2): string => (n === null ? 'n/a' : n.toFixed(digits));

function printStats(s: LogStats): void {
  const lines = [
    `engine          ${printable(s.engine)}, ${s.vcpus} vcpu${s.vcpus === 1 ? '' : 's'}`,
    `status          ${s.complete ? 'complete' : 'incomplete (no trailer: recording did not close cleanly)'}`,
    `size            ${s.bytes} bytes in ${s.chunks} chunks, ${s.records} records`,
    `${s.landmarkUnit.padEnd(16)}${s.landmarks}`,
    `bytes/M ${s.landmarkUnit === 'exits' ? 'exits' : 'instr'}   ${fixed(s.bytesPerMillion)}`,
    `duration        ${s.durationMs === null ? 'n/a' : `${s.durationMs.toFixed(1)} ms`}`,
    `exit code       ${s.exitCode ?? 'n/a'}`,
    '',
    'type                events       bytes',
    ...Object.entries(s.byType).map(([type, t]) => `${type.padEnd(18)}${String(t.events).padStart(8)}  ${String(t.bytes).padStart(10)}`),
  ];
  if (s.interruptDelay !== null) {
    const d = s.interruptDelay;
    const us = (v: number): string => (v < 10 ? v.toFixed(1) : v.toFixed(0));
    lines.push(
      '',
      `interrupt delay ${d.interrupts} interrupts waited for an exit: mean ${us(d.meanUs)} µs, median ${us(d.medianUs)}, ` +
        `p90 ${us(d.p90Us)}, p99 ${us(d.p99Us)}, max ${us(d.maxUs)}`,
      '  ' +
        d.histogram
          .map((b, i) => {
            const previous = i === 0 ? undefined : d.histogram[i - 1]!.upToUs;
            const label = b.upToUs === null ? `> ${previous} µs` : `≤ ${b.upToUs} µs`;
            return `${label}: ${b.interrupts}`;
          })
          .join(', '),
    );
  }
  if (s.crew !== null) {
    lines.push('', `CREW transfers  ${s.crew.transfers} (${fixed(s.crew.perMillion)} per million ${s.landmarkUnit})`);
    for (const [pair, n] of Object.entries(s.crew.byPair)) lines.push(`  vcpu ${pair.replace('->', ' -> vcpu ')}: ${n}`);
    lines.push('  hottest pages: ' + s.crew.hottestPages.map((p) => `${p.page}${p.where ? ` [${printable(p.where)}]` : ''} (${p.transfers})`).join(', '));
  }
  if (s.serial !== null) {
    lines.push(
      '',
      `serialized      ${s.serial.groups} group${s.serial.groups === 1 ? '' : 's'}, ${s.serial.modeSwitches} mode switches, ` +
        `${s.serial.turnSwitches} turn switches (${fixed(s.serial.turnSwitchesPerMillion)} per million ${s.landmarkUnit})`,
    );
  }
  process.stdout.write(lines.join('\n') + '\n');
}

const statsCommand: CommandModule<object, LogArgs> = {
  command: 'stats <log>',
  describe: 'events and bytes by type, density per million instructions, CREW transfers, serialized mode',
  builder: withLogArgs,
  handler: (args) => {
    const stats = logFileStats(args.log, args.guest);
    if (args.json) process.stdout.write(JSON.stringify(stats, null, 2) + '\n');
    else printStats(stats);
  },
};

const dumpCommand: CommandModule<object, LogArgs> = {
  command: 'dump <log>',
  describe: 'one line per record (--json: one object, streamed)',
  builder: withLogArgs,
  handler: (args) => {
    const out = new StdoutWriter();
    try {
      dumpLogFile(args.log, args.json, (text) => out.write(text));
    } finally {
      out.flush();
    }
  },
};

interface TimelineArgs {
  log: string;
  output: string;
  html: boolean;
  from: string | undefined;
  to: string | undefined;
  pages: string | undefined;
  interval: string | undefined;
  guest: string | undefined;
  wall: boolean;
}

const timelineCommand: CommandModule<object, TimelineArgs> = {
  command: 'timeline <log>',
  describe: 'a timeline of vCPUs, interrupts and CREW transfers (trace-event JSON for Perfetto, or --html)',
  builder: (y: Argv) =>
    y
      .positional('log', { type: 'string', demandOption: true, describe: 'the .rrlog file' })
      .option('output', { alias: 'o', type: 'string', demandOption: true, describe: 'the trace to write (RUN.trace.json, or RUN.html with --html)' })
      .option('html', { type: 'boolean', default: false, describe: 'a self-contained HTML page instead of trace-event JSON' })
      .option('from', { type: 'string', describe: 'only landmarks from this count on, on every vCPU (10M, 0x1000, 250k)' })
      .option('to', { type: 'string', describe: 'only landmarks up to this count' })
      .option('pages', { type: 'string', describe: 'only transfers of these CREW pages: numbers (0x3), ranges (0x3-0x7), guest variable names' })
      .option('wall', { type: 'boolean', default: false, describe: 'host time instead of landmarks, from a log recorded with --wall-samples' })
      .option('interval', { type: 'string', describe: 'landmarks per counter interval (default 1M instructions, 100 exits)' })
      .option('guest', { type: 'string', describe: 'the guest ELF whose variables name pages, when not at the path recorded in the log' }) as unknown as Argv<TimelineArgs>,
  handler: (args) => {
    const landmark = (flag: string, text: string | undefined): bigint | undefined => {
      let value: bigint | undefined;
      checkOption(flag, text, (t) => (value = parseLandmark(t)));
      return value;
    };
    let window: LandmarkWindow;
    try {
      window = LandmarkWindow.between(landmark('--from', args.from), landmark('--to', args.to));
    } catch (error) {
      if (error instanceof UsageError) throw error;
      throw new UsageError(`--from/--to: ${(error as Error).message}`);
    }
    const interval = landmark('--interval', args.interval);
    let result;
    try {
      result = writeTimeline({
        logPath: args.log,
        outPath: args.output,
        format: args.html ? 'html' : 'json',
        guest: args.guest,
        window,
        pages: args.pages,
        interval,
        wall: args.wall,
      });
    } catch (error) {
      if (error instanceof RangeError) throw new UsageError(error.message);
      throw error;
    }
    process.stderr.write(
      `rrkit: wrote ${result.path}: ${result.vcpus} vCPU tracks, ${result.transfers} CREW transfers, ${result.instants} instants, ` +
        `${result.checkpoints} checkpoints (${result.events} trace events${result.complete ? '' : '; the log is incomplete'})` +
        (args.html ? '\n' : '; open it in the Perfetto UI or chrome://tracing\n'),
    );
  },
};

export const logCommand: CommandModule = {
  command: 'log <command>',
  describe: 'inspect a record log',
  builder: (y: Argv) => y.command(statsCommand).command(dumpCommand).command(timelineCommand).demandCommand(1),
  handler: () => {},
};
