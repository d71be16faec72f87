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

const [treeArg, workload, vcpuList, roundsArg] = process.argv.slice(2);
if (!treeArg || !workload || !vcpuList) {
  process.stderr.write('usage: kvm-smp-compare.ts TREE WORKLOAD VCPUS(2,4,8) [ROUNDS]\n');
  process.exit(2);
}
const tree = resolve(treeArg);
const vcpuCounts = vcpuList.split(',').map(Number);
const rounds = Number(roundsArg ?? 3);
const { record } = await import(join(tree, 'src/session/record.ts'));
const { replay } = await import(join(tree, 'src/session/replay.ts'));
const { runGuest } = await import(join(tree, 'src/session/run.ts'));
const { scanLogFile } = await import(join(tree, 'src/analysis/log-reader.ts'));
// A workload of TREE's, or the path of an ELF (a workload built at another size: docs/kvm-smp.md).
const elf = workload.endsWith('.elf') ? resolve(workload) : join(tree, 'guests/build/x86_64', `${workload}.elf`);
const dir = mkdtempSync(join(tmpdir(), 'rrkit-kvm-smp-compare-'));
const secondsSince = (t: bigint): number => Number(process.hrtime.bigint() - t) / 1e9;
const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
try {
  for (const vcpus of vcpuCounts) {
    const logPath = join(dir, `${basename(workload, '.elf')}-${vcpus}.rrlog`);
    const plain: number[] = [];
    const recorded: number[] = [];
    const replayed: number[] = [];
    let faults = 0;
    let transfers = 0;
    for (let round = 0; round < rounds; round++) {
      let t = process.hrtime.bigint();
      await runGuest({ elf, engine: 'kvm', vcpus, capture: true, timeoutSeconds: 300 });
      plain.push(secondsSince(t));
      t = process.hrtime.bigint();
      const r = await record({ elf, engine: 'kvm', logPath, vcpus, capture: true, timeoutSeconds: 300, force: true });
      recorded.push(secondsSince(t));
      t = process.hrtime.bigint();
      const p = await replay({ logPath, capture: true, timeoutSeconds: 600 });
      replayed.push(secondsSince(t));
      if (p.kind !== 'exited' || !p.result.console.equals(r.console) || p.result.stateHash !== r.stateHash) {
        throw new Error(`${workload} on ${vcpus} vCPUs (${tree}): the replay is not the recording`);
      }
      if (round === 0) {
        scanLogFile(logPath, (x: { type: string }) => {
          if (x.type === 'crew-fault') faults++;
          if (x.type === 'crew-transfer') transfers++;
        });
      }
    }
    const best = (values: number[]): number => Math.min(...values);
    process.stdout.write(
      `${JSON.stringify({
        tree,
        workload,
        vcpus,
        plain: best(plain),
        record: best(recorded),
        replay: best(replayed),
        recordOverPlain: best(recorded) / best(plain),
        medianRecordOverPlain: median(recorded.map((r, i) => r / plain[i]!)),
        replayOverRecord: best(replayed) / best(recorded),
        faults,
        transfers,
      })}\n`,
    );
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
