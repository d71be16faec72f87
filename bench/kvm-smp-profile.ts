/**
 * `npx tsx bench/kvm-smp-profile.ts WORKLOAD VCPUS [ROUNDS]`: where an SMP kvm recording's
 * extra time goes (docs/kvm-smp.md, "Where the time goes"). Interleaved rounds of a plain run
 * and a recording with the same vCPUs, each with the machine's profile on
 * (`RRKIT_KVM_PROFILE=1`: native/kvm/run_profile.h prints, per vCPU, time in KVM_RUN to an
 * exit and to a stop, decoding, waiting for pages, mprotect, serving requests, spin-waits),
 * and around it the session's own costs: the whole call against the machine's run (set-up
 * of the VMs, the log, sealing and syncing it). Prints the profiles on stderr and one JSON
 * line per round on stdout; the stops come from the log, split into first touches, read and
 * write transfers, and the pages that came along with them.
 *
 *   npx tsx bench/kvm-smp-profile.ts radix-sort 2,8 3
 *
 * WORKLOAD may be an ELF's path instead: a workload built at another size.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';

const [workload, vcpuList, roundsArg] = process.argv.slice(2);
if (!workload || !vcpuList) {
  process.stderr.write('usage: kvm-smp-profile.ts WORKLOAD VCPUS(2,4,8) [ROUNDS]\n');
  process.exit(2);
}
// Read by the addon once, when the first run asks.
process.env.RRKIT_KVM_PROFILE = '1';
const { record } = await import('../src/session/record.js');
const { runGuest } = await import('../src/session/run.js');
const { scanLogFile } = await import('../src/analysis/log-reader.js');
// A workload's name, or the path of an ELF (a workload built at another size: docs/kvm-smp.md).
const elf = workload.endsWith('.elf') ? workload : join(import.meta.dirname, '../guests/build/x86_64', `${workload}.elf`);
const name = basename(workload, '.elf');
const dir = mkdtempSync(join(tmpdir(), 'rrkit-kvm-smp-profile-'));
const secondsSince = (t: bigint): number => Number(process.hrtime.bigint() - t) / 1e9;
const rounds = Number(roundsArg ?? 3);

interface StopKinds {
  stops: number;
  firstTouches: number;
  readTransfers: number;
  writeTransfers: number;
  edges: number;
  alongEdges: number;
}

/** The log's stops by kind: a stop's record counts the edges into it, pages along included. */
function stopKinds(logPath: string): StopKinds {
  const kinds: StopKinds = { stops: 0, firstTouches: 0, readTransfers: 0, writeTransfers: 0, edges: 0, alongEdges: 0 };
  const requested = new Set<string>();
  const edgesInto = new Map<string, { page: bigint }[]>();
  const faults: { key: string; page: bigint; write: boolean; edges: bigint }[] = [];
  scanLogFile(logPath, (r) => {
    if (r.type === 'crew-transfer') {
      kinds.edges++;
      const key = `${r.to.vcpu}:${r.to.count}`;
      const list = edgesInto.get(key) ?? [];
      list.push({ page: r.page });
      edgesInto.set(key, list);
    } else if (r.type === 'crew-fault') {
      const key = `${r.vcpu}:${r.count}`;
      faults.push({ key, page: r.page, write: r.write, edges: r.edges });
      requested.add(`${key}:${r.page}`);
    }
  });
  const stopKeys = new Set<string>();
  for (const f of faults) {
    stopKeys.add(f.key);
    const direct = (edgesInto.get(f.key) ?? []).some((e) => e.page === f.page);
    if (!direct) kinds.firstTouches++;
    else if (f.write) kinds.writeTransfers++;
    else kinds.readTransfers++;
  }
  kinds.stops = stopKeys.size;
  for (const [key, list] of edgesInto) {
    for (const e of list) if (stopKeys.has(key) && !requested.has(`${key}:${e.page}`)) kinds.alongEdges++;
  }
  return kinds;
}

try {
  for (const vcpus of vcpuList.split(',').map(Number)) {
    for (let round = 0; round < rounds; round++) {
      process.stderr.write(`--- ${workload} on ${vcpus} vCPUs, round ${round + 1}: plain\n`);
      let t = process.hrtime.bigint();
      const plain = await runGuest({ elf, engine: 'kvm', vcpus, capture: true, timeoutSeconds: 300 });
      const plainSeconds = secondsSince(t);
      process.stderr.write(`--- record\n`);
      const logPath = join(dir, `${name}-${vcpus}.rrlog`);
      t = process.hrtime.bigint();
      const recorded = await record({ elf, engine: 'kvm', logPath, vcpus, capture: true, timeoutSeconds: 300, force: true });
      const recordSeconds = secondsSince(t);
      process.stdout.write(
        `${JSON.stringify({
          workload: name,
          vcpus,
          round,
          plainSeconds,
          plainRunSeconds: plain.wallSeconds,
          recordSeconds,
          recordRunSeconds: recorded.wallSeconds,
          recordOverPlain: recordSeconds / plainSeconds,
          ...stopKinds(logPath),
        })}\n`,
      );
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
