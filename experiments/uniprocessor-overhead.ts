/**
 * Figure: the cost of uniprocessor record and replay on the emu engine — record and replay
 * time relative to a plain run of the same workload, measured side by side (rounds of
 * plain / record / replay, best of 3), with the log's size per 1000 instructions.
 *
 *   npx tsx experiments/uniprocessor-overhead.ts      (about a minute)
 *
 * Writes results/uniprocessor-overhead.{csv,json,png}.
 */
import { benchRecordReplay, formatRecordReplay } from '../bench/record-replay.js';
import { writeChart, writeData } from './lib/results.js';

const WORKLOADS = ['matmul', 'fft', 'radix-sort', 'sha256', 'lock-counter', 'timer-ticks', 'entropy-mix'];

const rows = await benchRecordReplay(3, WORKLOADS);
process.stdout.write(`${formatRecordReplay(rows)}\n`);

const data = rows.map((r) => ({
  workload: r.workload,
  instructions: r.instructions,
  plain_s: r.plainSeconds.toFixed(4),
  record_over_plain: (r.recordSeconds / r.plainSeconds).toFixed(3),
  replay_over_plain: (r.replaySeconds / r.plainSeconds).toFixed(3),
  log_bytes: r.logBytes,
  events: r.events,
  log_bytes_per_1000_instructions: ((r.logBytes * 1000) / Number(r.instructions)).toFixed(4),
}));
const written = writeData('uniprocessor-overhead', data, {
  what: 'record and replay time over a plain run, 1 vCPU, emu engine, full-size workloads, best of 3 rounds',
  targets: { recordOverPlain: 1.1, replayOverPlain: 1.1, logBytesPer1000Instructions: 1 },
});
const png = await writeChart('uniprocessor-overhead', {
  type: 'bar',
  data: {
    labels: rows.map((r) => r.workload),
    datasets: [
      { label: 'record / plain', data: rows.map((r) => r.recordSeconds / r.plainSeconds), backgroundColor: '#1f77b4' },
      { label: 'replay / plain', data: rows.map((r) => r.replaySeconds / r.plainSeconds), backgroundColor: '#ff7f0e' },
    ],
  },
  options: {
    plugins: { title: { display: true, text: 'Uniprocessor record/replay overhead (emu, 1 vCPU; target ≤ 1.10)' } },
    scales: { y: { beginAtZero: true, title: { display: true, text: 'time relative to a plain run' } } },
  },
});
process.stderr.write(`wrote ${[...written, png].join(', ')}\n`);
