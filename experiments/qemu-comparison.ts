/**
 * Figure: rrkit next to the tool a researcher would otherwise use — the same rv64 ELFs under
 * rrkit's emu engine and qemu-system-riscv64: a plain run, and QEMU's own record/replay
 * (`-icount shift=auto,rr=record,rrfile=…` then `rr=replay`) against rrkit's record and
 * replay: time, log size, and whether the replay reproduces the run. On 1 hart, and on 2 and
 * 4, where QEMU refuses record/replay ("not supported for 'smp'") and rrkit records with CREW.
 *
 *   npm run experiments -- qemu-comparison [--quick]
 */
import { spawnSync } from 'node:child_process';
import { PALETTE, series, subtitle, unavailableNote, type ChartSpec } from './lib/charts.js';
import type { CellPlan, Figure, FigureTable } from './lib/figure.js';
import { ALL_VARIANTS, METRICS, reproducedFact, rrkitCell } from './lib/rrkit-cells.js';
import type { TrialValues } from './lib/trial-spec.js';

const WORKLOADS = ['matmul', 'sha256', 'timer-ticks', 'entropy-mix'];
const HARTS = [1, 2, 4];
const TOOLS = ['qemu', 'rrkit'] as const;

function qemuMissing(): string | null {
  const r = spawnSync('qemu-system-riscv64', ['--version'], { stdio: 'ignore' });
  return r.status === 0 ? null : 'not measured here: qemu-system-riscv64 is not installed (Debian: qemu-system-misc; ./setup.sh installs it)';
}

function cells(quick: boolean): CellPlan[] {
  const missing = qemuMissing();
  return WORKLOADS.flatMap((workload) =>
    HARTS.flatMap((harts) => [
      missing === null
        ? { key: { tool: 'qemu', workload, harts }, trial: { kind: 'qemu' as const, workload, small: quick, harts, variants: ALL_VARIANTS } }
        : { key: { tool: 'qemu', workload, harts }, unavailable: missing },
      // The same trial as smp-overhead's emu cells: run once for both.
      rrkitCell({ tool: 'rrkit', workload, harts }, { engine: 'emu', workload, small: quick, vcpus: harts, variants: ALL_VARIANTS }),
    ]),
  );
}

/** "refused: …" when QEMU refused to record (the same message on every repeat), else empty. */
function refusal(repeats: readonly TrialValues[]): string {
  const said = repeats.map((v) => v.recordRefused).find((r) => typeof r === 'string');
  return said === undefined ? '' : `refused: ${String(said)}`;
}

function chart(table: FigureTable): ChartSpec {
  const labels = WORKLOADS.flatMap((w) => HARTS.map((h) => `${w}, ${h} hart${h === 1 ? '' : 's'}`));
  const keys = (tool: string) => WORKLOADS.flatMap((workload) => HARTS.map((harts) => ({ tool, workload, harts })));
  const sets = TOOLS.flatMap((tool, t) =>
    (['plain_s', 'record_s', 'replay_s'] as const).map((metric, m) => ({
      label: `${tool === 'qemu' ? 'QEMU' : 'rrkit emu'}: ${metric.replace('_s', '')}`,
      ...series(table, metric, keys(tool)),
      backgroundColor: PALETTE[t * 3 + m]!,
    })),
  );
  const refused = table.cells.some((c) => (c.facts.qemu_record ?? '').startsWith('refused'));
  return {
    config: {
      type: 'bar',
      data: { labels, datasets: sets.map(({ ranges: _r, ...d }) => d) },
      options: {
        plugins: {
          title: { display: true, text: 'The same rv64 ELFs: QEMU (TCG; record/replay with -icount rr=) against rrkit emu (record/replay; CREW on several harts)' },
          subtitle: {
            display: true,
            text: [
              subtitle(table, refused ? "no QEMU record/replay bars on 2 and 4 harts: QEMU refuses (\"not supported for 'smp'\")" : ''),
              'QEMU: whole processes (start-up included); rrkit: the session in a running process. Log sizes and whether each replay reproduced its run: the CSV',
              unavailableNote(table),
            ].filter((s) => s !== ''),
          },
        },
        scales: {
          x: { title: { display: true, text: 'workload and harts' } },
          y: { title: { display: true, text: 'wall time of one run (s, log scale)' } },
        },
      },
    },
    errorBars: sets.map((s) => s.ranges),
    logAxes: ['y'],
  };
}

export const figure: Figure = {
  name: 'qemu-comparison',
  title: 'rrkit emu against QEMU, plain and record/replay, on the same rv64 ELFs',
  description:
    "The same rv64 ELF under qemu-system-riscv64 (-machine virt -bios none, TCG) and under rrkit's emu engine: a plain run, a recording and a replay of it, each timed. QEMU records with its own record/replay (-icount shift=auto,rr=record,rrfile=F; replay with rr=replay), which needs -icount (instruction counting slows TCG) and refuses machines with several harts (\"Record/replay feature is not supported for 'smp'\"); rrkit records several harts with CREW. log_bytes: QEMU's rrfile against rrkit's log. reproduced: QEMU's replay printed what its recording printed; rrkit's replay passed every checkpoint and printed the same. QEMU's times are whole processes (start-up included, about 0.1 s here); rrkit's the session call in a running process. Under QEMU the runtime substitutes a generator for rrkit's entropy device (entropy-mix).",
  repeats: { full: 3, quick: 1 },
  cells,
  metrics: [METRICS.plainSeconds, METRICS.recordSeconds, METRICS.replaySeconds, METRICS.recordOverPlain, METRICS.replayOverRecord, METRICS.logBytes],
  facts: (repeats) => ({ reproduced: reproducedFact(repeats), qemu_record: refusal(repeats) }),
  chart,
};
