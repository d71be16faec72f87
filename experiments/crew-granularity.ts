/**
 * Figure: what the CREW page size costs — record time over a plain run, and transfers per
 * million instructions, for ownership pages from a cache line (64 B) to a huge page (2 MiB),
 * on 2 and 4 vCPUs, measured side by side (rounds of plain / record / replay, best of 2).
 * Small pages cut false sharing but fault more often (and first touches cost a fault each);
 * large pages fault rarely but share more.
 *
 *   npx tsx experiments/crew-granularity.ts      (about six minutes)
 *
 * Writes results/crew-granularity.{csv,json,png}.
 */
import { benchCrew, crewBenchCells, type CrewBenchRow } from '../bench/crew.js';
import { CREW_DEFAULT_HOLD } from '../src/smp/crew-options.js';
import { writeChart, writeData } from './lib/results.js';

const WORKLOADS = ['matmul', 'fft', 'radix-sort', 'atomic-histogram', 'barrier-stencil'];
const GRANULARITIES = [64, 256, 1024, 4096, 16384, 65536, 262144, 2097152];
const VCPUS = [2, 4];
const ROUNDS = 2;

const rows: (CrewBenchRow & { granularity: number })[] = [];
for (const granularity of GRANULARITIES) {
  process.stderr.write(`granularity ${granularity} B\n`);
  for (const row of await benchCrew(WORKLOADS, VCPUS, ROUNDS, { crewGranularity: granularity })) rows.push({ ...row, granularity });
}

const data = rows.map((r) => ({ granularity_bytes: r.granularity, ...crewBenchCells(r) }));
for (const d of data) {
  process.stdout.write(
    `${d.workload.padEnd(18)} ${String(d.vcpus).padStart(2)} vCPUs ${String(d.granularity_bytes).padStart(8)} B  record/plain ${d.record_over_plain.padStart(7)}  transfers/M ${d.transfers_per_million_instructions.padStart(9)}\n`,
  );
}
const written = writeData('crew-granularity', data, {
  what: `CREW record over a plain run by ownership page size; emu engine; hold ${CREW_DEFAULT_HOLD} instructions; best of ${ROUNDS} rounds`,
});

const colours = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd'];
const png = await writeChart('crew-granularity', {
  type: 'line',
  data: {
    labels: GRANULARITIES.map((g) => (g >= 1024 * 1024 ? `${g / 1024 / 1024} MiB` : g >= 1024 ? `${g / 1024} KiB` : `${g} B`)),
    datasets: VCPUS.flatMap((vcpus) =>
      WORKLOADS.map((workload, i) => ({
        label: `${workload}, ${vcpus} vCPUs`,
        data: GRANULARITIES.map((g) => {
          const r = rows.find((x) => x.workload === workload && x.vcpus === vcpus && x.granularity === g);
          return r === undefined ? null : r.recordSeconds / r.plainSeconds;
        }),
        borderColor: colours[i % colours.length],
        backgroundColor: colours[i % colours.length],
        borderDash: vcpus === VCPUS[0] ? [] : [6, 4],
      })),
    ),
  },
  options: {
    plugins: { title: { display: true, text: 'CREW record overhead by ownership page size (emu; solid: 2 vCPUs, dashed: 4)' } },
    scales: {
      x: { title: { display: true, text: 'CREW page (granularity)' } },
      y: { type: 'logarithmic', title: { display: true, text: 'record time relative to a plain run (log scale)' } },
    },
  },
});
process.stderr.write(`wrote ${[...written, png].join(', ')}\n`);
