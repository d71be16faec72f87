/**
 * `npx tsx bench/smp-sharing-compare.ts TREE WORKLOAD VCPUS [ROUNDS]`: the smp-sharing bench's
 * rounds on the emu engine (plain run, record with the default serialized mode, replay of
 * that recording, checked against it; bench/smp.ts) run against the rrkit checkout TREE,
 * built, so that two builds — main's before a change and a branch's after it — are measured
 * by the same harness, alternately (a shell loop over the trees). One JSON line per vCPU
 * count: best seconds, record/plain of the best and the median of per-round ratios,
 * replay/record, and per million instructions the CREW transfers, turn switches, mode
 * switches and log bytes of the first recording.
 *
 *   for round in 1 2 3; do for t in /tmp/before .; do npx tsx bench/smp-sharing-compare.ts $t flag-handshake 2,4,8 1; done; done
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const [treeArg, workload, vcpuList, roundsArg] = process.argv.slice(2);
if (!treeArg || !workload || !vcpuList) {
  process.stderr.write('usage: smp-sharing-compare.ts TREE WORKLOAD VCPUS(2,4,8) [ROUNDS]\n');
  process.exit(2);
}
const tree = resolve(treeArg);
const vcpuCounts = vcpuList.split(',').map(Number);
const rounds = Number(roundsArg ?? 3);
const { record } = await import(join(tree, 'src/session/record.ts'));
const { replay } = await import(join(tree, 'src/session/replay.ts'));
const { runGuest } = await import(join(tree, 'src/session/run.ts'));
const { scanLogFile } = await import(join(tree, 'src/analysis/log-reader.ts'));
const { benchGuest } = await import(join(tree, 'bench/timed-round.ts'));
const small = process.env.RRKIT_BENCH_SIZE === 'small';
const { elf, input } = benchGuest(small ? `${workload}.small` : workload, 'rv64');
const dir = mkdtempSync(join(tmpdir(), 'rrkit-smp-sharing-compare-'));
const secondsSince = (t: bigint): number => Number(process.hrtime.bigint() - t) / 1e9;
const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const best = (values: number[]): number => Math.min(...values);
try {
  for (const vcpus of vcpuCounts) {
    const logPath = join(dir, `${workload}-${vcpus}.rrlog`);
    const plain: number[] = [];
    const recorded: number[] = [];
    const replayed: number[] = [];
    const facts = { instructions: 0, transfers: 0, turns: 0, modeSwitches: 0, bytes: 0 };
    for (let round = 0; round < rounds; round++) {
      let t = process.hrtime.bigint();
      await runGuest({ elf, vcpus, input, capture: true, timeoutSeconds: 600 });
      plain.push(secondsSince(t));
      t = process.hrtime.bigint();
      const r = await record({ elf, logPath, vcpus, input, capture: true, timeoutSeconds: 600, force: true });
      recorded.push(secondsSince(t));
      t = process.hrtime.bigint();
      const p = await replay({ logPath, capture: true, timeoutSeconds: 600 });
      replayed.push(secondsSince(t));
      if (p.kind !== 'exited' || !p.result.console.equals(r.console) || p.result.stateHash !== r.stateHash) {
        throw new Error(`${workload} on ${vcpus} vCPUs (${tree}): the replay is not the recording`);
      }
      if (round === 0) {
        facts.instructions = r.vcpus.reduce((sum: number, v: { landmark: bigint }) => sum + Number(v.landmark), 0);
        facts.bytes = statSync(logPath).size;
        scanLogFile(logPath, (x: { type: string }) => {
          if (x.type === 'crew-transfer') facts.transfers++;
          else if (x.type === 'turn-switch') facts.turns++;
          else if (x.type === 'mode-switch') facts.modeSwitches++;
        });
      }
    }
    const perMillion = (n: number): number => Number(((n * 1e6) / facts.instructions).toFixed(1));
    process.stdout.write(
      `${JSON.stringify({
        tree,
        workload,
        vcpus,
        plain: best(plain),
        record: best(recorded),
        replay: best(replayed),
        recordOverPlain: Number((best(recorded) / best(plain)).toFixed(2)),
        medianRecordOverPlain: Number(median(recorded.map((r, i) => r / plain[i]!)).toFixed(2)),
        replayOverRecord: Number((best(replayed) / best(recorded)).toFixed(2)),
        instructions: facts.instructions,
        transfersPerM: perMillion(facts.transfers),
        turnsPerM: perMillion(facts.turns),
        modeSwitches: facts.modeSwitches,
        logBytesPerM: perMillion(facts.bytes),
      })}\n`,
    );
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
