/**
 * Figure: failover on loopback — N drills per configuration (`rrkit replicate`: a primary
 * and its backups as processes, the primary SIGKILLed at a random time into clock-poll's
 * 2 s run), each checked for lost and repeated output lines, with the time from the kill to
 * the takeover (the lease won) and to the new primary's first live instruction, against
 * the heartbeat timeout (the target: failover ≤ 3 × the timeout), and against the network delay:
 * configurations with `delayMs` put the backup in a network namespace behind a veth pair
 * with that one-way delay each way (experiments/lib/netns.ts, delay-forwarder.ts; root);
 * `etcd` ones take the lease in a throwaway etcd on loopback (experiments/lib/etcd-server.ts).
 *
 *   npm run drill -- N          (N drills per configuration, default 4; ~8 s a drill)
 *   npx tsx experiments/failover.ts [N] [--quick] [--only TEXT...]   (--quick: one drill per configuration; the
 *                               runner's --quick; --only: the configurations whose label starts with TEXT)
 *
 * Writes results/failover.{csv,json,png}.
 */
import { drill, type DrillReport } from '../src/replication/drill.js';
import { startDelayForwarder, type DelayForwarder } from './lib/delay-forwarder.js';
import { startEtcd, type EtcdServer } from './lib/etcd-server.js';
import { createNetns, type NetnsLink } from './lib/netns.js';
import { writeChart, writeData } from './lib/results.js';

interface Configuration {
  label: string;
  /** default emu; kvm replicates one vCPU */
  engine?: 'emu' | 'kvm';
  vcpus: number;
  backups: number;
  heartbeatTimeoutMs: number;
  /** also kill the first new primary, this long after it took over */
  secondKillMs?: number;
  /** a drill without a kill: the primary lives to report what the output rule cost */
  noKill?: boolean;
  /** the backup in a network namespace, this many ms away each way */
  delayMs?: number;
  /** the lease in etcd (a throwaway etcd on loopback) instead of lock files */
  etcd?: boolean;
}

const CONFIGURATIONS: Configuration[] = [
  { label: 'no kill (output rule cost, log bandwidth), hb 300 ms', vcpus: 1, backups: 1, heartbeatTimeoutMs: 300, noKill: true },
  { label: '1 vCPU, hb 100 ms', vcpus: 1, backups: 1, heartbeatTimeoutMs: 100 },
  { label: '1 vCPU, hb 300 ms', vcpus: 1, backups: 1, heartbeatTimeoutMs: 300 },
  { label: '1 vCPU, hb 1000 ms', vcpus: 1, backups: 1, heartbeatTimeoutMs: 1000 },
  { label: '2 vCPUs, hb 300 ms', vcpus: 2, backups: 1, heartbeatTimeoutMs: 300 },
  { label: '4 vCPUs, hb 300 ms', vcpus: 4, backups: 1, heartbeatTimeoutMs: 300 },
  { label: '2 backups, both primaries killed, hb 300 ms', vcpus: 1, backups: 2, heartbeatTimeoutMs: 300, secondKillMs: 100 },
  ...[0, 10, 50].flatMap((delayMs): Configuration[] => [
    { label: `netns ${delayMs} ms each way, no kill, hb 300 ms`, vcpus: 1, backups: 1, heartbeatTimeoutMs: 300, noKill: true, delayMs },
    { label: `netns ${delayMs} ms each way, hb 300 ms`, vcpus: 1, backups: 1, heartbeatTimeoutMs: 300, delayMs },
  ]),
  { label: 'kvm, 1 vCPU, hb 300 ms', engine: 'kvm', vcpus: 1, backups: 1, heartbeatTimeoutMs: 300 },
  { label: 'kvm, 1 vCPU, hb 1000 ms', engine: 'kvm', vcpus: 1, backups: 1, heartbeatTimeoutMs: 1000 },
  { label: 'etcd lease, 1 vCPU, hb 1000 ms', vcpus: 1, backups: 1, heartbeatTimeoutMs: 1000, etcd: true },
];
const LINES = 400; // clock-poll

/** Lines lost and repeated (and whether what came was in order), from the output the world saw. */
export function judgeOutput(output: string): { lost: number; repeated: number; inOrder: boolean; verdict: boolean } {
  const numbers = output.split('\n').filter((l) => l.startsWith('line ')).map((l) => Number(l.slice(5)));
  const seen = new Map<number, number>();
  for (const n of numbers) seen.set(n, (seen.get(n) ?? 0) + 1);
  let lost = 0;
  for (let i = 1; i <= LINES; i++) if (!seen.has(i)) lost++;
  const repeated = numbers.length - seen.size;
  const inOrder = numbers.every((n, i) => i === 0 || n > numbers[i - 1]!);
  return { lost, repeated, inOrder, verdict: output.includes(`clock-poll: ok lines=${LINES} backwards=0`) };
}

// The runner passes --quick (CI) or nothing (the full set, which has to fit its 20 minutes).
// --only TEXT (repeatable) keeps the configurations whose label starts with one of the TEXTs.
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const only = args.flatMap((a, i) => (args[i - 1] === '--only' ? [a] : []));
const drillsArgument = args.find((a, i) => a !== '--quick' && a !== '--only' && args[i - 1] !== '--only');
if (drillsArgument !== undefined && !/^[1-9]\d*$/.test(drillsArgument)) {
  process.stderr.write(`failover: the number of drills per configuration must be a whole number ≥ 1, not '${drillsArgument}'\n`);
  process.exit(2);
}
const perConfiguration = drillsArgument !== undefined ? Number(drillsArgument) : quick ? 1 : 4;
const chosen = only.length === 0 ? CONFIGURATIONS : CONFIGURATIONS.filter((c) => only.some((text) => c.label.startsWith(text)));
if (chosen.length === 0) {
  process.stderr.write(`failover: no configuration's label starts with ${only.map((t) => `'${t}'`).join(' or ')}; they are: ${CONFIGURATIONS.map((c) => c.label).join('; ')}\n`);
  process.exit(2);
}
const rows: Record<string, string | number>[] = [];
// One namespace for every networked drill, removed at the end (and on an error).
let netns: NetnsLink | undefined;
let netnsError = '';
const forwarders: DelayForwarder[] = [];
if (chosen.some((c) => c.delayMs !== undefined)) {
  try {
    netns = createNetns();
  } catch (e) {
    netnsError = (e as Error).message;
  }
}
process.on('exit', () => netns?.remove());
// One etcd for every etcd drill, stopped at the end.
let etcd: EtcdServer | undefined;
let etcdError = '';
if (chosen.some((c) => c.etcd === true)) {
  try {
    etcd = await startEtcd();
  } catch (e) {
    etcdError = (e as Error).message;
  }
}
for (const c of chosen) {
  for (let i = 0; i < perConfiguration; i++) {
    // The kill lands anywhere in the first 1.5 s of the 2 s guest (earlier with a second kill to come).
    const killAfter = 100 + Math.floor(Math.random() * (c.secondKillMs === undefined ? 1400 : 700));
    let report: DrillReport | undefined;
    let error = '';
    const lines: string[] = [];
    const seen: Buffer[] = [];
    try {
      if (c.delayMs !== undefined && netns === undefined) throw new Error(netnsError);
      if (c.etcd === true && etcd === undefined) throw new Error(etcdError);
      const ns = netns;
      const away =
        c.delayMs === undefined || ns === undefined
          ? {}
          : {
              backupPlace: { prefix: ns.prefix, host: ns.nsAddress },
              relayHost: ns.hostAddress,
              reach: async (listening: string) => {
                const forwarder = await startDelayForwarder(ns.hostAddress, listening, c.delayMs!);
                forwarders.push(forwarder);
                return forwarder.address;
              },
            };
      report = await drill({
        ...away,
        ...(c.etcd === true ? { etcd: etcd!.url } : {}),
        guest: 'clock-poll',
        engine: c.engine ?? 'emu',
        vcpus: c.vcpus,
        backups: c.backups,
        killPrimaryAfterMs: c.noKill === true ? undefined : killAfter,
        killNewPrimaryAfterMs: c.secondKillMs,
        heartbeatTimeoutMs: c.heartbeatTimeoutMs,
        write: (bytes) => seen.push(bytes),
        log: (line) => lines.push(line),
        deadlineMs: 60_000,
      });
    } catch (e) {
      error = (e as Error).message;
    }
    // What the world saw, also of a drill that did not end (its replicas all gone, or the deadline).
    const judged = judgeOutput(Buffer.concat(seen).toString('utf8'));
    const first = report?.takeovers[0];
    // The first primary's own account, if it lived to the guest's exit (it does not in a drill with a kill).
    const costs = lines.map((l) => /output rule held \d+ flushes a median ([\d.]+) ms.*log shipped: .*?([\d.]+) Mbit\/s/.exec(l)).find((m) => m !== null);
    const row = {
      configuration: c.label,
      engine: c.engine ?? 'emu',
      vcpus: c.vcpus,
      backups: c.backups,
      heartbeat_timeout_ms: c.heartbeatTimeoutMs,
      delay_ms_each_way: c.delayMs ?? '',
      lease: c.etcd === true ? 'etcd' : 'lock files',
      kill_after_ms: c.noKill === true ? '' : killAfter,
      exit_code: report?.exitCode ?? -1,
      ended: report === undefined ? 0 : 1,
      lost_lines: judged.lost,
      repeated_lines: judged.repeated,
      in_order: judged.inOrder ? 1 : 0,
      guest_verdict_ok: judged.verdict ? 1 : 0,
      takeover_ms: first?.announcedAfterKillMs?.toFixed(1) ?? '',
      live_ms: first?.liveAfterKillMs?.toFixed(1) ?? '',
      takeovers: report?.takeovers.length ?? 0,
      output_rule_median_ms: costs?.[1] ?? '',
      log_mbit_per_s: costs?.[2] ?? '',
      duplicate_bytes_dropped: report?.duplicateBytes ?? '',
      error,
    };
    rows.push(row);
    process.stdout.write(`${JSON.stringify(row)}\n`);
    if (error !== '' || judged.lost > 0 || judged.repeated > 0) process.stderr.write(`drill failed:\n${lines.join('\n')}\n`);
    for (const f of forwarders.splice(0)) f.close();
  }
}
netns?.remove();
await etcd?.stop();

const byConfiguration = chosen.map((c) => {
  const mine = rows.filter((r) => r.configuration === c.label);
  const live = mine.map((r) => Number(r.live_ms)).filter((v) => Number.isFinite(v) && v > 0);
  const sorted = [...live].sort((a, b) => a - b);
  return {
    label: c.label,
    timeout: c.heartbeatTimeoutMs,
    drills: mine.length,
    lost: mine.reduce((n, r) => n + Number(r.lost_lines), 0),
    repeated: mine.reduce((n, r) => n + Number(r.repeated_lines), 0),
    unfinished: mine.filter((r) => r.ended === 0).length,
    failed: mine.filter((r) => r.error !== '' || Number(r.exit_code) !== 0).length,
    medianLive: sorted[Math.floor(sorted.length / 2)] ?? NaN,
    maxLive: sorted.at(-1) ?? NaN,
    medianOutputRuleMs: (() => {
      const held = mine.map((r) => Number(r.output_rule_median_ms)).filter((v) => Number.isFinite(v) && v > 0).sort((a, b) => a - b);
      return held[Math.floor(held.length / 2)] ?? NaN;
    })(),
  };
});
for (const s of byConfiguration) {
  process.stderr.write(
    `${s.label}: ${s.drills} drills, ${s.failed} failed (${s.unfinished} never ended), lines lost ${s.lost} (an unfinished drill's missing lines count), repeated ${s.repeated}; ` +
      (Number.isFinite(s.medianLive) ? `kill → first live instruction median ${s.medianLive.toFixed(0)} ms, max ${s.maxLive.toFixed(0)} ms (3 × timeout = ${3 * s.timeout} ms)` : 'no kill') +
      (Number.isFinite(s.medianOutputRuleMs) ? `; output rule hold median ${s.medianOutputRuleMs.toFixed(1)} ms` : '') +
      '\n',
  );
}
const written = writeData('failover', rows, {
  what: 'failover drills on loopback and (netns rows) with the backup in a network namespace 0-50 ms away each way, emu engine (and kvm, one vCPU, where labelled), clock-poll (400 numbered lines over 2 s), primary SIGKILLed at a random time',
  perConfiguration,
  summary: byConfiguration,
  targets: { lostLines: 0, repeatedLines: 0, failoverOverHeartbeatTimeout: 3 },
  note: 'machine shared with other engineers while measured: times are provisional',
});
const png = await writeChart('failover', {
  type: 'bar',
  data: {
    labels: byConfiguration.map((s) => s.label),
    datasets: [
      { label: 'kill → first live instruction, median (ms)', data: byConfiguration.map((s) => s.medianLive), backgroundColor: '#1f77b4' },
      { label: 'max (ms)', data: byConfiguration.map((s) => s.maxLive), backgroundColor: '#ff7f0e' },
      { label: '3 × heartbeat timeout (target, ms)', data: byConfiguration.map((s) => 3 * s.timeout), backgroundColor: '#2ca02c' },
      { label: 'output rule hold, median (ms; drills without a kill)', data: byConfiguration.map((s) => s.medianOutputRuleMs), backgroundColor: '#9467bd' },
    ],
  },
  options: {
    plugins: { title: { display: true, text: `Failover and output latency against heartbeat timeout and network delay (emu, and kvm where labelled; ${perConfiguration} drills each; lost and repeated lines in the data)` } },
    scales: { y: { beginAtZero: true, title: { display: true, text: 'ms' } } },
  },
});
process.stderr.write(`wrote ${[...written, png].join(', ')}\n`);
