/**
 * `npm run bench [-- SECTION...] [--quick] [--json FILE]`: every benchmark, one after another
 * (they share two cores), or only the named sections (emu, record-replay, crew, smp, kvm,
 * kvm-smp, startup, log, timeline, micro; smp-sharing and smp-threads are smp's first and
 * last tables alone). --quick and --json FILE are the micro section's: tiny batches (a check
 * that every row works), and its rows as JSON in FILE.
 */
import { benchEmu, formatEmuBench } from './emu.js';
import { benchCrew, formatCrewBench } from './crew.js';
import { kvmBenchSection } from './kvm.js';
import { smpBenchSection, smpSharingSection, smpThreadsSection } from './smp.js';
import { kvmSmpBenchSection } from './kvm-smp.js';
import { benchRecordReplay, formatRecordReplay } from './record-replay.js';
import { benchStartup, formatStartup } from './startup.js';
import { benchLog, formatLogBench } from './log.js';
import { microBenchSection } from './micro.js';
import { benchTimelineCost, benchWallSamples, formatTimelineCost, formatWallSamples } from './timeline.js';

/** The options that are not section names. */
interface BenchFlags {
  quick: boolean;
  json?: string;
}

const SECTIONS: Record<string, (flags: BenchFlags) => Promise<string>> = {
  emu: async () => `emu against qemu-system-riscv64 TCG, same ELF, same run:\n${formatEmuBench(await benchEmu())}`,
  'record-replay': async () =>
    `uniprocessor record/replay on emu (1 vCPU, full size, best of 3 rounds of plain/record/replay):\n${formatRecordReplay(await benchRecordReplay())}`,
  crew: async () =>
    `SMP record/replay with CREW on emu (full size, 1 to 8 vCPUs on this machine's cores, best of 2 rounds of plain/record/replay):\n${formatCrewBench(await benchCrew())}`,
  smp: smpBenchSection,
  'smp-sharing': smpSharingSection,
  'smp-threads': smpThreadsSection,
  kvm: kvmBenchSection,
  'kvm-smp': () => kvmSmpBenchSection(),
  startup: async () => `start-up of the rrkit command (whole processes, median of 15, interleaved):\n${formatStartup(await benchStartup())}`,
  log: async () => `the log at scale (format version 3, one run):\n${formatLogBench(await benchLog())}`,
  timeline: async () =>
    `wall-clock samples in a recording (record vs record --wall-samples at 1 ms, best of 4 alternating rounds; wall and CPU time):\n${formatWallSamples(await benchWallSamples())}\n\n` +
    `rrkit log timeline against log stats on one large log (best of 3, whole processes):\n${formatTimelineCost(benchTimelineCost())}`,
  micro: (flags) => microBenchSection({ ...flags, command: ['npm run bench --', ...process.argv.slice(2)].join(' ') }),
};
/** The sections --quick and --json apply to. */
const FLAGGED_SECTIONS = ['micro'];

function parseArguments(args: readonly string[]): { sections: string[]; flags: BenchFlags } {
  const sections: string[] = [];
  const flags: BenchFlags = { quick: false };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--quick') flags.quick = true;
    else if (arg === '--json') {
      const file = args[++i];
      if (file === undefined || file.startsWith('--')) usage('--json needs a file name');
      flags.json = file;
    } else if (arg.startsWith('-')) usage(`unknown option ${arg}`);
    else if (!(arg in SECTIONS)) usage(`unknown section ${arg}`);
    else sections.push(arg);
  }
  if ((flags.quick || flags.json !== undefined) && !sections.some((name) => FLAGGED_SECTIONS.includes(name))) {
    usage(`--quick and --json are for the ${FLAGGED_SECTIONS.join(', ')} section: name it`);
  }
  return { sections, flags };
}

function usage(problem: string): never {
  process.stderr.write(`bench: ${problem}; sections: ${Object.keys(SECTIONS).join(', ')}; options: --quick, --json FILE (micro)\n`);
  process.exit(2);
}

const { sections: asked, flags } = parseArguments(process.argv.slice(2));
const started = process.hrtime.bigint();
// smp-sharing and smp-threads are parts of smp: not run twice when every section runs.
const EVERY_SECTION = Object.keys(SECTIONS).filter((name) => name !== 'smp-sharing' && name !== 'smp-threads');
for (const name of asked.length > 0 ? asked : EVERY_SECTION) process.stdout.write(`${await SECTIONS[name]!(flags)}\n\n`);
process.stdout.write(`bench took ${(Number(process.hrtime.bigint() - started) / 1e9).toFixed(1)} s\n`);
