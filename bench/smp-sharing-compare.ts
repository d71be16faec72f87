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
import { join } from 'node:path';
import { compareArgs, summarize, timedRounds, treeSessions } from './compare-trees.js';

const { tree, workload, vcpuCounts, rounds } = compareArgs('smp-sharing-compare.ts');
const sessions = await treeSessions(tree);
const { benchGuest } = await import(join(tree, 'bench/timed-round.ts'));
const small = process.env.RRKIT_BENCH_SIZE === 'small';
const { elf, input } = benchGuest(small ? `${workload}.small` : workload, 'rv64');
const dir = mkdtempSync(join(tmpdir(), 'rrkit-smp-sharing-compare-'));
try {
  for (const vcpus of vcpuCounts) {
    const logPath = join(dir, `${workload}-${vcpus}.rrlog`);
    const facts = { instructions: 0, transfers: 0, turns: 0, modeSwitches: 0, bytes: 0 };
    const times = await timedRounds(
      sessions,
      rounds,
      `${workload} on ${vcpus} vCPUs (${tree})`,
      {
        plain: { elf, vcpus, input, capture: true, timeoutSeconds: 600 },
        record: { elf, logPath, vcpus, input, capture: true, timeoutSeconds: 600, force: true },
        replayTimeoutSeconds: 600,
      },
      (r) => {
        facts.instructions = r.vcpus.reduce((sum, v) => sum + Number(v.landmark), 0);
        facts.bytes = statSync(logPath).size;
        sessions.scanLogFile(logPath, (x) => {
          if (x.type === 'crew-transfer') facts.transfers++;
          else if (x.type === 'turn-switch') facts.turns++;
          else if (x.type === 'mode-switch') facts.modeSwitches++;
        });
      },
    );
    const perMillion = (n: number): number => Number(((n * 1e6) / facts.instructions).toFixed(1));
    process.stdout.write(
      `${JSON.stringify({
        tree,
        workload,
        vcpus,
        ...summarize(times),
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
