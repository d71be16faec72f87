/**
 * A TCP forwarder that adds a one-way delay each way: every chunk read on one side is
 * written to the other `delayMs` later, in order. The network-namespace tests and the
 * failover figure put it between a primary and a backup in its namespace, because this
 * machine's kernel has no `netem` qdisc (CONFIG_NET_SCH_NETEM is not set, nor fq for
 * BPF-timed departures): `tc qdisc ... netem delay` fails with "Specified qdisc kind is
 * unknown". Where netem exists, experiments/lib/netns.ts's setDelay uses it instead.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

export interface DelayForwarder {
  /** HOST:PORT to connect to instead of the target */
  readonly address: string;
  setDelay(ms: number): void;
  close(): void;
}

/** Forwards connections on `host` (any free port) to `target` (HOST:PORT), delaying each direction. */
export async function startDelayForwarder(host: string, target: string, delayMs: number): Promise<DelayForwarder> {
  let delay = delayMs;
  const [targetHost, targetPort] = [target.slice(0, target.lastIndexOf(':')), Number(target.slice(target.lastIndexOf(':') + 1))];
  const sockets = new Set<Socket>();
  const pipeDelayed = (from: Socket, to: Socket): void => {
    from.on('data', (bytes: Buffer) => {
      const send = (): void => {
        if (!to.destroyed) to.write(bytes);
      };
      // Every chunk waits the same delay, so order is kept (timers of equal delay fire in order).
      if (delay === 0) send();
      else setTimeout(send, delay);
    });
    from.on('end', () => setTimeout(() => to.end(), delay));
    from.on('error', () => to.destroy());
    from.on('close', () => setTimeout(() => to.destroy(), delay));
  };
  const server: Server = createServer((inbound) => {
    const outbound = connect({ host: targetHost, port: targetPort });
    for (const s of [inbound, outbound]) {
      s.setNoDelay(true);
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    }
    pipeDelayed(inbound, outbound);
    pipeDelayed(outbound, inbound);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  return {
    address: `${host}:${port}`,
    setDelay: (ms) => (delay = ms),
    close: () => {
      server.close();
      for (const s of sockets) s.destroy();
    },
  };
}
