/**
 * A place across a network for a replica: a network namespace of our own, joined to this one
 * by a veth pair with a /30 of 10.213.0.0/16 on it, which the tests cut (a partition: the
 * pair's link down, so every packet between the two sides is lost) and mend. Traffic goes
 * only between this host's namespace and the one created here. Delay comes from
 * experiments/lib/delay-forwarder.ts (this kernel has no netem). Needs root and iproute2;
 * a machine without them gets an error that says so, never a skip.
 */
import { execFileSync } from 'node:child_process';

export interface NetnsLink {
  /** the namespace's name */
  readonly ns: string;
  /** the address on this side of the pair (reachable from inside), and inside */
  readonly hostAddress: string;
  readonly nsAddress: string;
  /** the command prefix that runs a process inside */
  readonly prefix: string[];
  /** cut the pair (link down): nothing passes either way */
  partition(): void;
  /** mend it */
  heal(): void;
  /** remove the namespace (its end of the pair, and so the pair); idempotent */
  remove(): void;
}

let created = 0;

function ip(args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

function why(error: unknown): string {
  const e = error as { stderr?: Buffer; message: string };
  return (e.stderr?.toString('utf8').trim() || e.message).split('\n')[0]!;
}

/** Creates the namespace and the pair; throws one clear line when it cannot (not root, no iproute2, no netns support). */
export function createNetns(): NetnsLink {
  const k = created++;
  const tag = `${process.pid % 100000}x${k}`;
  const ns = `rrkit-${tag}`;
  const hostDev = `rrh${tag}`;
  const nsDev = `rrn${tag}`;
  // A /30 per link: 10.213.A.B/30 from the pid and the count, so that parallel test files differ.
  const slot = ((process.pid % 4096) * 16 + (k % 16)) % 16384;
  const base = `10.213.${slot >> 6}.${(slot & 63) * 4}`;
  const octets = base.split('.').map(Number);
  const hostAddress = `10.213.${octets[2]}.${octets[3]! + 1}`;
  const nsAddress = `10.213.${octets[2]}.${octets[3]! + 2}`;
  try {
    ip(['netns', 'add', ns]);
  } catch (error) {
    throw new Error(`the network-namespace tests need root and iproute2: 'ip netns add ${ns}' failed: ${why(error)}`);
  }
  const inNs = (args: string[]): string[] => ['netns', 'exec', ns, ...args];
  const link: NetnsLink = {
    ns,
    hostAddress,
    nsAddress,
    prefix: ['ip', 'netns', 'exec', ns],
    partition() {
      ip(['link', 'set', hostDev, 'down']);
    },
    heal() {
      ip(['link', 'set', hostDev, 'up']);
    },
    remove() {
      try {
        ip(['netns', 'del', ns]);
      } catch {
        // already gone
      }
      try {
        ip(['link', 'del', hostDev]);
      } catch {
        // gone with the namespace
      }
    },
  };
  try {
    ip(['link', 'add', hostDev, 'type', 'veth', 'peer', 'name', nsDev]);
    ip(['link', 'set', nsDev, 'netns', ns]);
    ip(['addr', 'add', `${hostAddress}/30`, 'dev', hostDev]);
    ip(['link', 'set', hostDev, 'up']);
    ip(inNs(['ip', 'addr', 'add', `${nsAddress}/30`, 'dev', nsDev]));
    ip(inNs(['ip', 'link', 'set', nsDev, 'up']));
    ip(inNs(['ip', 'link', 'set', 'lo', 'up']));
  } catch (error) {
    link.remove();
    throw new Error(`the network-namespace tests need root and iproute2: setting up ${ns} failed: ${why(error)}`);
  }
  return link;
}
