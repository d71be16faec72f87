/**
 * Replication across a network: the backup in a network namespace of its own, behind a veth
 * pair (experiments/lib/netns.ts), with a one-way delay of 0, 1, 10 and 50 ms each way
 * between it and the primary (experiments/lib/delay-forwarder.ts: this kernel has no netem),
 * and a partition (the pair's link down). Every drill checks clock-poll's output as the
 * world saw it: each numbered line once, in order, and its verdict. Needs root (CI is root):
 * a machine where the namespace cannot be made fails here with a line that says why.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDelayForwarder, type DelayForwarder } from '../experiments/lib/delay-forwarder.js';
import { createNetns, type NetnsLink } from '../experiments/lib/netns.js';
import { drill, formatDrillReport, type DrillOptions, type DrillReport } from '../src/replication/drill.js';
import { builtGuestPath } from '../src/guests/catalog.js';
import { expectEveryLineOnce } from './drill-output.js';


let link: NetnsLink | undefined;
let setupError: Error | undefined;
const forwarders: DelayForwarder[] = [];

beforeAll(() => {
  try {
    link = createNetns();
  } catch (error) {
    setupError = error as Error;
  }
});

afterAll(() => {
  for (const f of forwarders) f.close();
  link?.remove();
});

/** The namespace, or the reason there is none (a failure, never a skip). */
function place(): NetnsLink {
  if (link === undefined) throw setupError ?? new Error('the network namespace was not created');
  return link;
}

async function netDrill(delayMs: number, extra: Partial<DrillOptions>): Promise<{ report: DrillReport; log: string }> {
  const ns = place();
  const lines: string[] = [];
  const report = await drill({
    guest: builtGuestPath('clock-poll', 'rv64'),
    engine: 'emu',
    vcpus: 1,
    backups: 1,
    heartbeatTimeoutMs: 1000,
    backupPlace: { prefix: ns.prefix, host: ns.nsAddress },
    relayHost: ns.hostAddress,
    reach: async (listening) => {
      const forwarder = await startDelayForwarder(ns.hostAddress, listening, delayMs);
      forwarders.push(forwarder);
      return forwarder.address;
    },
    write: () => {},
    log: (line) => lines.push(line),
    deadlineMs: 100_000,
    ...extra,
  });
  return { report, log: `${lines.join('\n')}\n${formatDrillReport(report)}` };
}

describe('replication across a network namespace', () => {
  it('the namespace and its veth pair exist (root and iproute2)', () => {
    const ns = place();
    expect(ns.ns).toMatch(/^rrkit-/);
  });

  it.each([0, 1, 10, 50])('a backup %i ms away (each way): the primary killed at a random time, the backup takes over, every line once', async (delayMs) => {
    const kill = 300 + Math.floor(Math.random() * 1200);
    const { report, log } = await netDrill(delayMs, { killPrimaryAfterMs: kill });
    expectEveryLineOnce(report, log);
    expect(report.takeovers, log).toHaveLength(1);
    expect(log).toMatch(/SIGKILL primary/);
    expect(log, 'the backup listens inside the namespace').toMatch(/\[backup 1\] rrkit replica: listening on 10\.213\./);
  }, 120_000);

  it('the output rule waits about one round trip: with 50 ms each way, no output leaves before its 100 ms', async () => {
    const { report, log } = await netDrill(50, {});
    expectEveryLineOnce(report, log);
    const held = /the output rule held \d+ flushes a median ([\d.]+) ms/.exec(log);
    expect(held, log).not.toBeNull();
    expect(Number(held![1]), log).toBeGreaterThanOrEqual(100);
  }, 120_000);

  it('a backup cut off (link down) past the heartbeat timeout: the primary drops it and goes on; the backup, no longer a member, never takes over', async () => {
    const ns = place();
    const timers: NodeJS.Timeout[] = [];
    try {
      const { report, log } = await netDrill(1, {
        // Cut 300 ms into the run, for 3 s (the timeout is 1 s), counted from the drill's start.
        write: () => {
          if (timers.length > 0) return;
          timers.push(setTimeout(() => ns.partition(), 300));
          timers.push(setTimeout(() => ns.heal(), 3300));
        },
      });
      expectEveryLineOnce(report, log);
      expect(log).toMatch(/backup \S+ dropped \((silent|unreachable)\); 0 backup\(s\) left/);
      expect(report.takeovers, log).toHaveLength(0);
      expect(Object.keys(report.releasedBy), log).toEqual(['primary']);
    } finally {
      timers.forEach(clearTimeout);
      ns.heal();
    }
  }, 120_000);
});
