/**
 * Replication with the lease in etcd (`--etcd`): a real etcd on loopback, started here on
 * free ports with a temporary data directory and stopped after. The drill with the primary
 * killed; a primary stopped (SIGSTOP) past its lease, and one whose lease is revoked
 * mid-run — each must release nothing more, and exactly one backup takes over; every line
 * of clock-poll exactly once, in order, in each.
 */
import { execFile } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEtcd, type EtcdServer } from '../experiments/lib/etcd-server.js';
import { builtGuestPath } from '../src/guests/catalog.js';
import { expectEveryLineOnce } from './drill-output.js';
import { drill, formatDrillReport, type DrillOptions, type DrillReport } from '../src/replication/drill.js';

const execFileAsync = promisify(execFile);
const rrkit = join(__dirname, '..', 'bin', 'rrkit');
/** The drills' key prefixes in etcd: their lease directories' paths (src/replication/drill.ts). */
const DRILL_PREFIX = join(tmpdir(), 'rrkit-lease-');

/** The old primary's last line: etcd said its lease is over, or (a renewal in flight when it was stopped) it could not renew in time. */
const LOST_LEASE =
  /\[primary\] rrkit replica: lost the lease \((the etcd lease of epoch 0 (expired or was revoked|is gone)|could not renew the etcd lease of epoch 0 in its time: .*)\): released nothing more, stopped/;

let etcd: EtcdServer | undefined;
let admin: Etcd3 | undefined;

beforeAll(async () => {
  etcd = await startEtcd();
  admin = new Etcd3({ hosts: etcd.url });
}, 60_000);

afterAll(async () => {
  admin?.close();
  await etcd?.stop();
});

/** The drill's leases in etcd: key → value, under every drill's prefix. */
async function drillKeys(): Promise<Map<string, string>> {
  return new Map(Object.entries(await admin!.getAll().prefix(DRILL_PREFIX).strings()));
}

/** A 1 s heartbeat timeout, so a 1 s etcd lease (etcd's are whole seconds). */
async function etcdDrill(extra: Partial<DrillOptions>): Promise<{ report: DrillReport; log: string }> {
  const lines: string[] = [];
  const report = await drill({
    guest: builtGuestPath('clock-poll', 'rv64'),
    engine: 'emu',
    vcpus: 1,
    backups: 1,
    heartbeatTimeoutMs: 1000,
    etcd: etcd!.url,
    write: () => {},
    log: (line) => lines.push(line),
    deadlineMs: 100_000,
    ...extra,
  }).catch((error: Error) => {
    // A drill that did not end says why in the replicas' own lines.
    throw new Error(`${error.message}\n${lines.join('\n')}`);
  });
  return { report, log: `${lines.join('\n')}\n${formatDrillReport(report)}` };
}

/** The lease records this drill left in etcd: exactly epochs 0 and 1, the second held by the backup that took over. */
function expectOneTakeoverInEtcd(before: Map<string, string>, after: Map<string, string>, report: DrillReport, log: string): void {
  const fresh = [...after].filter(([key]) => !before.has(key));
  const latest = fresh.filter(([key]) => key.endsWith('/latest'));
  expect(latest.map(([, value]) => value), log).toEqual(['1']);
  const prefix = latest[0]![0].slice(0, -'latest'.length);
  expect(JSON.parse(after.get(`${prefix}epoch/0`)!), log).toMatchObject({ holder: 'primary' });
  expect(JSON.parse(after.get(`${prefix}epoch/1`)!), log).toMatchObject({ holder: report.takeovers[0]!.replica, members: [] });
  expect(after.has(`${prefix}epoch/2`), log).toBe(false);
}

describe('replication with the lease in etcd', () => {
  it('the primary killed at a random time: one backup takes the next epoch in etcd, every line once', async () => {
    const before = await drillKeys();
    const { report, log } = await etcdDrill({ killPrimaryAfterMs: 200 + Math.floor(Math.random() * 1300) });
    expectEveryLineOnce(report, log);
    expect(report.takeovers.map((t) => t.epoch), log).toEqual([1]);
    expect(report.staleBytes, log).toBe(0);
    expectOneTakeoverInEtcd(before, await drillKeys(), report, log);
  }, 120_000);

  it('a primary stopped (SIGSTOP) past its etcd lease: exactly one backup takes over; the old primary wakes, releases nothing more and stops', async () => {
    const before = await drillKeys();
    const { report, log } = await etcdDrill({ pausePrimary: { afterMs: 700, forMs: 3500 } });
    expectEveryLineOnce(report, log);
    expect(report.takeovers.map((t) => t.epoch), log).toEqual([1]);
    // Anything the old primary sent after the new one announced itself would count here.
    expect(report.staleBytes, log).toBe(0);
    expect(log).toMatch(LOST_LEASE);
    expectOneTakeoverInEtcd(before, await drillKeys(), report, log);
  }, 120_000);

  it("the primary's etcd lease revoked mid-run: it stops at its next renewal, exactly one backup takes over, every line once", async () => {
    const before = await drillKeys();
    let revoked = '';
    // An operator fencing the primary: its lease revoked 700 ms after it took it.
    const fence = (async () => {
      const until = Date.now() + 60_000;
      while (Date.now() < until) {
        const holder = [...(await drillKeys())].find(([key, value]) => !before.has(key) && key.endsWith('/holder') && value === '0');
        if (holder !== undefined) {
          await new Promise((resolve) => setTimeout(resolve, 700));
          const kv = (await admin!.get(holder[0]).exec()).kvs[0];
          // Gone already: the primary's lease lapsed by itself (a process starved past the TTL);
          // `revoked` stays empty and the test says so below, with the drill's log.
          if (kv === undefined) return;
          await admin!.leaseClient.leaseRevoke({ ID: kv.lease });
          revoked = kv.lease;
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
    const { report, log } = await etcdDrill({});
    await fence;
    expect(revoked, `the primary's lease was gone before it could be revoked\n${log}`).not.toBe('');
    expectEveryLineOnce(report, log);
    expect(report.takeovers.map((t) => t.epoch), log).toEqual([1]);
    expect(report.staleBytes, log).toBe(0);
    expect(log).toMatch(LOST_LEASE);
    expectOneTakeoverInEtcd(before, await drillKeys(), report, log);
  }, 120_000);

  it('a bad or unreachable --etcd gets one line', async () => {
    const run = async (args: string[]): Promise<{ code: number; stderr: string }> => {
      try {
        const { stderr } = await execFileAsync(rrkit, args, { timeout: 60_000 });
        return { code: 0, stderr };
      } catch (error) {
        const e = error as { code: number; stderr: string };
        return { code: e.code, stderr: e.stderr };
      }
    };
    const bad = await run(['replicate', '--backups', '1', '--etcd', '127.0.0.1:2379', 'clock-poll.small']);
    expect(bad.code).toBe(119);
    expect(bad.stderr).toBe('rrkit: --etcd must be http://HOST:PORT (comma-separated for several), not "127.0.0.1:2379"\n');
    // A port nothing listens on: etcd's own, once stopped, is as good as any.
    const gone = await startEtcd();
    await gone.stop();
    const away = await run(['replicate', '--backups', '1', '--etcd', gone.url, 'clock-poll.small']);
    expect(away.code).not.toBe(0);
    expect(away.stderr).toMatch(new RegExp(`^rrkit: cannot reach etcd at ${gone.url.replace(/\./g, '\\.')}: [^\\n]+\\n$`));
  }, 60_000);
});
