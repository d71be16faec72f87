/**
 * `npx tsx bench/kvm-smp-compare.ts TREE WORKLOAD VCPUS [ROUNDS]`: the kvm-smp bench's rounds
 * (plain, record, replay with the same vCPUs; bench/kvm-smp.ts) run against the rrkit checkout
 * TREE, built, so that two builds — main's before a change and a branch's after it — are
 * measured by the same harness, alternately (a shell loop over the trees). One JSON line per
 * vCPU count: best seconds, record/plain of the best and the median of per-round ratios,
 * replay/record, CREW faults (stops) and transfers of the first recording.
 *
 *   for w in matmul radix-sort; do for t in /work/main .; do npx tsx bench/kvm-smp-compare.ts $t $w 2,4,8 3; done; done
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { compareArgs, summarize, timedRounds, treeSessions } from './compare-trees.js';

const { tree, workload, vcpuCounts, rounds } = compareArgs('kvm-smp-compare.ts');
const sessions = await treeSessions(tree);
// A workload of TREE's, or the path of an ELF (a workload built at another size: docs/kvm-smp.md).
const elf = workload.endsWith('.elf') ? resolve(workload) : join(tree, 'guests/build/x86_64', `${workload}.elf`);
const dir = mkdtempSync(join(tmpdir(), 'rrkit-kvm-smp-compare-'));
try {
  for (const vcpus of vcpuCounts) {
    const logPath = join(dir, `${basename(workload, '.elf')}-${vcpus}.rrlog`);
    let faults = 0;
    let transfers = 0;
    const times = await timedRounds(
      sessions,
      rounds,
      `${workload} on ${vcpus} vCPUs (${tree})`,
      {
        plain: { elf, engine: 'kvm', vcpus, capture: true, timeoutSeconds: 300 },
        record: { elf, engine: 'kvm', logPath, vcpus, capture: true, timeoutSeconds: 300, force: true },
        replayTimeoutSeconds: 600,
      },
      () =>
        sessions.scanLogFile(logPath, (x) => {
          if (x.type === 'crew-fault') faults++;
          if (x.type === 'crew-transfer') transfers++;
        }),
    );
    process.stdout.write(`${JSON.stringify({ tree, workload, vcpus, ...summarize(times), faults, transfers })}\n`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
