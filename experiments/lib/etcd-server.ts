/**
 * A throwaway etcd for the lease tests and drills (`--etcd`): Debian's etcd-server on
 * loopback, on free ports, with a temporary data directory, removed by stop(). Its raft
 * heartbeat is 10 ms and its election timeout 100 ms, so that its shortest lease is 1 s
 * (etcd's floor is 1.5 election timeouts, rounded up to whole seconds). A machine without
 * etcd gets an error that says so, never a skip.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface EtcdServer {
  /** the client URL (http://127.0.0.1:PORT) */
  readonly url: string;
  /** SIGTERM it (SIGKILL after 5 s), wait for its exit, remove its data; idempotent */
  stop(): Promise<void>;
}

const READY_WITHIN_MS = 30_000;

/** A port free on loopback now (the OS picks it; etcd binds it a moment later). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

async function healthy(url: string): Promise<boolean> {
  try {
    const response = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1000) });
    return response.ok && ((await response.json()) as { health?: string }).health === 'true';
  } catch {
    return false;
  }
}

export async function startEtcd(): Promise<EtcdServer> {
  const dir = mkdtempSync(join(tmpdir(), 'rrkit-etcd-'));
  const [clientPort, peerPort] = [await freePort(), await freePort()];
  const url = `http://127.0.0.1:${clientPort}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  const args = [
    '--name', 'rrkit',
    '--data-dir', join(dir, 'data'),
    '--listen-client-urls', url,
    '--advertise-client-urls', url,
    '--listen-peer-urls', peer,
    '--initial-advertise-peer-urls', peer,
    '--initial-cluster', `rrkit=${peer}`,
    '--heartbeat-interval', '10',
    '--election-timeout', '100',
    '--logger', 'zap',
    '--log-level', 'error',
  ];
  let stderr = '';
  const child: ChildProcess = spawn('etcd', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr!.on('data', (bytes: Buffer) => (stderr = (stderr + bytes.toString('utf8')).slice(-2000)));
  const exited = new Promise<string>((resolve) => {
    child.once('error', (error) => resolve(`could not start etcd (Debian's etcd-server; setup.sh installs it): ${error.message}`));
    child.once('exit', (code, signal) => resolve(`etcd exited (${signal ?? code}): ${stderr.trim().split('\n').at(-1) ?? ''}`));
  });
  // A process that ends without stop() (an uncaught error) takes its etcd with it.
  const orphaned = (): void => {
    child.kill('SIGKILL');
  };
  process.once('exit', orphaned);
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (!stopped) {
      stopped = true;
      process.off('exit', orphaned);
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    }
  };
  const started = Date.now();
  let gone: string | undefined;
  void exited.then((why) => (gone = why));
  while (!(await healthy(url))) {
    if (gone !== undefined || Date.now() - started > READY_WITHIN_MS) {
      await stop();
      throw new Error(gone ?? `etcd on ${url} was not healthy within ${READY_WITHIN_MS} ms: ${stderr.trim()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { url, stop };
}
