/**
 * Figure: uniprocessor against SMP record overhead on the emu engine — CREW record time
 * over a plain run with the same vCPU count, for 1 vCPU (no CREW) and 2, 4 and 8 vCPUs,
 * measured side by side; replay/record, transfers and log bytes per million instructions
 * in the data.
 *
 *   npx tsx experiments/smp-overhead.ts      (about three minutes)
 *
 * Writes results/smp-overhead.{csv,json,png}. On a 2-core host, 4 and 8 vCPUs run 2 and 4
 * vCPU threads per core.
 */
import { benchCrew, CREW_BENCH_VCPUS, crewBenchCells, formatCrewBench } from '../bench/crew.js';
import { writeChart, writeData } from './lib/results.js';
import { CREW_DEFAULT_GRANULARITY, CREW_DEFAULT_HOLD } from '../src/smp/crew-options.js';

const VCPUS = CREW_BENCH_VCPUS;
const ROUNDS = 3;
const rows = await benchCrew(undefined, VCPUS, ROUNDS);
process.stdout.write(`${formatCrewBench(rows)}\n`);

const written = writeData('smp-overhead', rows.map(crewBenchCells), {
  what: `CREW record over a plain run with the same vCPU count; emu engine; best of ${ROUNDS} rounds`,
  crew: { granularityBytes: CREW_DEFAULT_GRANULARITY, holdInstructions: CREW_DEFAULT_HOLD },
  targets: { recordOverPlainLowSharing: 1.5, replayOverRecord: 2 },
});
const workloads = [...new Set(rows.map((r) => r.workload))];
const colours = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728'];
const png = await writeChart('smp-overhead', {
  type: 'bar',
  data: {
    labels: workloads,
    datasets: VCPUS.map((vcpus, i) => ({
      label: vcpus === 1 ? '1 vCPU (uniprocessor)' : `${vcpus} vCPUs (CREW, 4 KiB pages)`,
      data: workloads.map((w) => {
        const r = rows.find((x) => x.workload === w && x.vcpus === vcpus);
        return r === undefined ? null : r.recordSeconds / r.plainSeconds;
      }),
      backgroundColor: colours[i % colours.length],
    })),
  },
  options: {
    plugins: { title: { display: true, text: 'Record overhead: uniprocessor vs SMP with CREW (emu; target ≤ 1.5 on low-sharing)' } },
    scales: { y: { type: 'logarithmic', title: { display: true, text: 'record time relative to a plain run (log scale)' } } },
  },
});
process.stderr.write(`wrote ${[...written, png].join(', ')}\n`);
