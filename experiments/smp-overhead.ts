/**
 * Figure: uniprocessor against SMP record overhead, on both engines side by side in one run —
 * CREW record time over a plain run with the same vCPU count. emu: 1 vCPU (no CREW) and 2,
 * 4 and 8 vCPUs (CREW on a software CPU, transfers at exact instruction counts); kvm: 2, 4
 * and 8 vCPUs (CREW by host page protection, transfers at exit landmarks; docs/kvm-smp.md),
 * where /dev/kvm works. Replay/record, transfers, CREW faults and log bytes in the data.
 *
 *   npx tsx experiments/smp-overhead.ts      (about ten minutes on a 2-core machine)
 *
 * Writes results/smp-overhead.{csv,json,png}. On a 2-core host, 4 and 8 vCPUs run 2 and 4
 * vCPU threads per core.
 */
import { benchCrew, CREW_BENCH_VCPUS, crewBenchCells, formatCrewBench } from '../bench/crew.js';
import { kvmBenchContext } from '../bench/kvm.js';
import { benchKvmSmp, formatKvmSmp, KVM_SMP_VCPUS, KVM_SMP_WORKLOADS, kvmSmpCells, type KvmSmpRow } from '../bench/kvm-smp.js';
import { writeChart, writeData } from './lib/results.js';
import { CREW_DEFAULT_GRANULARITY, CREW_DEFAULT_HOLD } from '../src/smp/crew-options.js';

const ROUNDS = 3;
const emuRows = await benchCrew(undefined, CREW_BENCH_VCPUS, ROUNDS);
process.stdout.write(`emu:\n${formatCrewBench(emuRows)}\n\n`);
const kvm = kvmBenchContext();
let kvmRows: KvmSmpRow[] = [];
if (kvm.usable) {
  kvmRows = await benchKvmSmp(KVM_SMP_WORKLOADS, KVM_SMP_VCPUS, ROUNDS, (r) => process.stderr.write(`  kvm ${r.workload} on ${r.vcpus} vCPUs done\n`));
  process.stdout.write(`kvm (${kvm.backend}${kvm.comparable ? '' : `; NOT COMPARABLE: ${kvm.reason}`}):\n${formatKvmSmp(kvmRows)}\n`);
} else {
  process.stdout.write(`kvm: not measured: ${kvm.reason}\n`);
}

const written = writeData('smp-overhead', [...emuRows.map((r) => ({ engine: 'emu', ...crewBenchCells(r) })), ...kvmRows.map(kvmSmpCells)], {
  what: `CREW record over a plain run with the same vCPU count, emu and kvm side by side in one run; best of ${ROUNDS} rounds`,
  crew: { granularityBytes: CREW_DEFAULT_GRANULARITY, emuHoldInstructions: CREW_DEFAULT_HOLD, kvmHold: 'none: transfers at the holder’s next landmark' },
  kvm: kvm.usable ? { backend: kvm.backend, comparable: kvm.comparable, note: kvm.reason } : { absent: kvm.reason },
  targets: { recordOverPlainLowSharing: 1.5, replayOverRecord: 2 },
});
const workloads = [...new Set(emuRows.map((r) => r.workload))];
const colours = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2'];
const datasets = [
  ...CREW_BENCH_VCPUS.map((vcpus) => ({
    label: vcpus === 1 ? 'emu, 1 vCPU (uniprocessor)' : `emu, ${vcpus} vCPUs (CREW)`,
    data: workloads.map((w) => {
      const r = emuRows.find((x) => x.workload === w && x.vcpus === vcpus);
      return r === undefined ? null : r.recordSeconds / r.plainSeconds;
    }),
  })),
  ...(kvmRows.length === 0
    ? []
    : KVM_SMP_VCPUS.map((vcpus) => ({
        label: `kvm, ${vcpus} vCPUs (CREW by page protection)`,
        data: workloads.map((w) => {
          const r = kvmRows.find((x) => x.workload.split('.')[0] === w.split('.')[0] && x.vcpus === vcpus);
          return r === undefined ? null : r.recordSeconds / r.plainSeconds;
        }),
      }))),
].map((d, i) => ({ ...d, backgroundColor: colours[i % colours.length] }));
const png = await writeChart('smp-overhead', {
  type: 'bar',
  data: { labels: workloads, datasets },
  options: {
    plugins: { title: { display: true, text: 'Record overhead: uniprocessor vs SMP with CREW, emu and kvm (target ≤ 1.5 on low-sharing)' } },
    scales: { y: { type: 'logarithmic', title: { display: true, text: 'record time relative to a plain run (log scale)' } } },
  },
});
process.stderr.write(`wrote ${[...written, png].join(', ')}\n`);
