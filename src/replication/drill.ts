/**
 * The failover drill: a relay (the outside world), a primary and K backups as separate
 * processes on this host, the primary killed with SIGKILL a given time into the guest's
 * run, and the guest's output as the world saw it. `rrkit replicate`; experiments/failover.ts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rrkitCommand } from './engine-process.js';
import { Relay } from './relay.js';
import type { ReplicaDisk } from './replica-disk.js';

export interface DrillOptions {
  guest: string;
  engine: string;
  vcpus: number;
  /** the guest's disk image (kvm), read by every replica (each given the same file) */
  disk?: Pick<ReplicaDisk, 'path' | 'shared'>;
  backups: number;
  /** kill the primary this long after it announced itself (its guest running); undefined: never */
  killPrimaryAfterMs?: number;
  /** also kill the first backup that takes over, this long after it announced itself */
  killNewPrimaryAfterMs?: number;
  /** kill the first backup this long after the primary announced itself */
  killBackupAfterMs?: number;
  /**
   * start the killed backup again (at the same address) this long after the kill: the
   * primary reaches it again and it rejoins from a state image (emu); killPrimaryAfterMs
   * then counts from its rejoining
   */
  restartBackupAfterMs?: number;
  /** stop the primary (SIGSTOP) this long after it announced itself, for `forMs`, then let it go on (a partition) */
  pausePrimary?: { afterMs: number; forMs: number };
  /** stop the first backup (SIGSTOP) this long after the primary announced itself, for `forMs`, then let it go on */
  pauseBackup?: { afterMs: number; forMs: number };
  /** options passed to every backup (test hooks: --ack-delay MS) */
  backupTestArgs?: string[];
  /**
   * where the backups run, if not on loopback: the command prefix that starts a process
   * there (`ip netns exec NS`) and the address they listen on; the relay then listens on
   * `relayHost`, which both sides reach (the tests' network namespaces, experiments/lib/netns.ts)
   */
  backupPlace?: { prefix: string[]; host: string };
  relayHost?: string;
  /** the address the primaries reach a backup at, given the one it listens on (a forwarder between them: the tests' delay) */
  reach?: (listening: string) => Promise<string>;
  /** console input, sent to the first primary as soon as it announces itself */
  input?: Buffer;
  /** the replicas take their lease in this etcd (client URL), under the drill's own key prefix, instead of lock files */
  etcd?: string;
  heartbeatTimeoutMs: number;
  /** test hooks passed to the primary (--corrupt-frame N, --die-mid-frame N) */
  primaryTestArgs?: string[];
  /** where the guest's output goes as it arrives */
  write: (bytes: Buffer) => void;
  /** rrkit's messages (the replicas' stderr, prefixed) */
  log: (line: string) => void;
  /** give up after this long (ms) */
  deadlineMs?: number;
}

export interface DrillReport {
  exitCode: number;
  output: Buffer;
  killedAt: number[];
  /** each takeover: who, how long from the kill to its taking the lease and announcing itself, and to its machine's first live instruction (ms) */
  takeovers: { replica: string; epoch: number; announcedAfterKillMs?: number; liveAfterKillMs?: number }[];
  releasedBy: Record<string, number>;
  duplicateBytes: number;
  gapBytes: number;
  /** output bytes a primary sent after a newer epoch's primary announced itself (a primary that lost its lease must send none) */
  staleBytes: number;
  /** output bytes released before the (first) kill, and after */
  releasedBeforeKill: number;
  releasedAfterKill: number;
  /** restartBackupAfterMs: from the backup's restart to the primary's saying it rejoined from a state image (ms) */
  rejoinedAfterRestartMs?: number;
}

function startReplica(args: string[], log: (line: string) => void, tag: string, prefix: string[] = []): { child: ChildProcess; listening: Promise<string> } {
  const { command, args: base } = rrkitCommand();
  const argv = [...prefix, command, ...base, ...args];
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'inherit', 'pipe'] });
  let resolveListening!: (address: string) => void;
  let rejectListening!: (error: Error) => void;
  const listening = new Promise<string>((resolve, reject) => {
    resolveListening = resolve;
    rejectListening = reject;
  });
  let partial = '';
  child.stderr!.on('data', (bytes: Buffer) => {
    partial += bytes.toString('utf8');
    const lines = partial.split('\n');
    partial = lines.pop()!;
    for (const line of lines) {
      const m = /listening on (\S+)$/.exec(line);
      if (m !== null) resolveListening(m[1]!);
      log(`[${tag}] ${line}`);
    }
  });
  child.on('exit', (code, signal) => rejectListening(new Error(`${tag} ended (${signal ?? code}) before it listened`)));
  return { child, listening };
}

export async function drill(options: DrillOptions): Promise<DrillReport> {
  const started = Date.now();
  const userLog = options.log;
  // Every line with the drill's clock, so that a failover's steps can be timed from stderr.
  // The restarted backup's rejoining (the primary says so) starts the primary's kill timer.
  let onRejoined: (() => void) | undefined;
  let restartedAt: number | undefined;
  let rejoinedAt: number | undefined;
  let spareWaits!: () => void;
  const spareReady = new Promise<void>((resolve) => (spareWaits = resolve));
  options = {
    ...options,
    log: (line) => {
      userLog(`${String(Date.now() - started).padStart(6)} ms ${line}`);
      if (/^\[backup 1 \(restarted\)\] .*waiting for SIGUSR2/.test(line)) spareWaits();
      if (restartedAt !== undefined && rejoinedAt === undefined && /^\[primary\] .*rejoined from the state image/.test(line)) {
        rejoinedAt = Date.now();
        onRejoined?.();
      }
    },
  };
  const leaseDir = mkdtempSync(join(tmpdir(), 'rrkit-lease-'));
  const children: ChildProcess[] = [];
  const output: Buffer[] = [];
  const killedAt: number[] = [];
  let releasedAtKill = 0;
  const byName = new Map<string, ChildProcess>();
  /** restartBackupAfterMs: the restarted backup, started beforehand, listening once told */
  let spare: ChildProcess | undefined;
  const relay = new Relay(
    (bytes) => {
      output.push(bytes);
      options.write(bytes);
    },
    options.log,
    (replica, epoch) => {
      const child = byName.get(replica);
      const kill = (ms: number | undefined): void => {
        if (ms === undefined || child === undefined) return;
        const timer = setTimeout(() => {
          if (child.exitCode !== null || child.signalCode !== null) {
            // Killing it now would report a failover that never happened.
            options.log(`[drill] no kill: ${replica} (primary of epoch ${epoch}) ended before ${ms} ms`);
            return;
          }
          if (killedAt.length === 0) releasedAtKill = relay.writtenBytes;
          killedAt.push(Date.now());
          options.log(`[drill] SIGKILL ${replica} (primary of epoch ${epoch}) after ${ms} ms`);
          child.kill('SIGKILL');
        }, ms);
        timer.unref();
      };
      if (epoch === 0 && options.killBackupAfterMs !== undefined) {
        const [first, victim] = [...byName.entries()][0]!;
        setTimeout(() => {
          options.log(`[drill] SIGKILL backup ${first} after ${options.killBackupAfterMs} ms`);
          victim.kill('SIGKILL');
          const restart = options.restartBackupAfterMs;
          if (restart === undefined || spare === undefined) return;
          setTimeout(() => {
            // (It waits for the signal once it has said so; a signal before would end it.)
            void spareReady.then(() => {
              options.log(`[drill] restarting backup ${first} (a spare process, started beforehand, takes its address)`);
              restartedAt = Date.now();
              spare!.kill('SIGUSR2');
              byName.set(first, spare!);
            });
          }, restart).unref();
        }, options.killBackupAfterMs).unref();
      }
      if (epoch === 0 && options.restartBackupAfterMs !== undefined) onRejoined = () => kill(options.killPrimaryAfterMs);
      else if (epoch === 0) kill(options.killPrimaryAfterMs);
      if (epoch === 0 && options.input !== undefined) relay.input(options.input);
      const stopBackup = options.pauseBackup;
      if (epoch === 0 && stopBackup !== undefined) {
        const [first, victim] = [...byName.entries()][0]!;
        setTimeout(() => {
          options.log(`[drill] SIGSTOP backup ${first} after ${stopBackup.afterMs} ms, for ${stopBackup.forMs} ms`);
          victim.kill('SIGSTOP');
          setTimeout(() => {
            options.log(`[drill] SIGCONT backup ${first}`);
            victim.kill('SIGCONT');
          }, stopBackup.forMs).unref();
        }, stopBackup.afterMs).unref();
      }
      const pause = options.pausePrimary;
      if (epoch === 0 && pause !== undefined && child !== undefined) {
        setTimeout(() => {
          releasedAtKill = relay.writtenBytes;
          killedAt.push(Date.now());
          options.log(`[drill] SIGSTOP ${replica} (primary of epoch 0) after ${pause.afterMs} ms, for ${pause.forMs} ms`);
          child.kill('SIGSTOP');
          setTimeout(() => {
            options.log(`[drill] SIGCONT ${replica}`);
            child.kill('SIGCONT');
          }, pause.forMs).unref();
        }, pause.afterMs).unref();
      }
      else if (epoch === 1) kill(options.killNewPrimaryAfterMs);
    },
  );
  const relayHost = options.relayHost ?? '127.0.0.1';
  const relayPort = await relay.listen(relayHost, 0);
  const relayAddress = `${relayHost}:${relayPort}`;
  const common = ['--engine', options.engine, '--lease', leaseDir, '--heartbeat-timeout', String(options.heartbeatTimeoutMs)];
  if (options.disk !== undefined) common.push('--disk', options.disk.path);
  // In etcd, the temporary directory's path is a key prefix no other drill uses.
  if (options.etcd !== undefined) common.push('--etcd', options.etcd);
  const backupArgs = [...common, ...(options.backupTestArgs ?? []), options.guest];
  try {
    const backups: string[] = [];
    for (let i = 0; i < options.backups; i++) {
      const { child, listening } = startReplica(
        ['replica', 'backup', '--listen', `${options.backupPlace?.host ?? '127.0.0.1'}:0`, ...backupArgs],
        options.log,
        `backup ${i + 1}`,
        options.backupPlace?.prefix,
      );
      children.push(child);
      const address = options.reach === undefined ? await listening : await options.reach(await listening);
      byName.set(address, child);
      backups.push(address);
      if (i === 0 && options.restartBackupAfterMs !== undefined) {
        // The restarted backup: a process started now, which takes the first backup's address
        // once told (a restart without a Node process's start-up time in the drill's clock).
        const started = startReplica(
          ['replica', 'backup', '--listen', await listening, '--listen-on-signal', ...backupArgs],
          options.log,
          'backup 1 (restarted)',
          options.backupPlace?.prefix,
        );
        started.listening.catch(() => {});
        spare = started.child;
        children.push(spare);
      }
    }
    const primaryArgs = ['replica', 'primary', '--name', 'primary', '--vcpus', String(options.vcpus), '--output', relayAddress, ...common, ...(options.primaryTestArgs ?? [])];
    if (options.disk?.shared === true) primaryArgs.push('--disk-shared');
    for (const b of backups) primaryArgs.push('--backup', b);
    const primary = startReplica([...primaryArgs, options.guest], options.log, 'primary');
    primary.listening.catch(() => {}); // a primary does not listen
    children.push(primary.child);
    byName.set('primary', primary.child);
    const deadline = options.deadlineMs ?? 120_000;
    // Every replica gone, the restarted backup included (it joins `children` later).
    const allEnded = (async (): Promise<void> => {
      for (;;) {
        const running = children.filter((c) => c.exitCode === null && c.signalCode === null);
        if (running.length === 0) return;
        await Promise.race(running.map((c) => new Promise<void>((resolve) => c.once('exit', () => resolve()))));
      }
    })();
    const exitCode = await Promise.race([
      relay.exit,
      // Every replica gone and no exit heard: the guest's end was never released.
      allEnded.then(() => new Promise<number>((_, reject) => setTimeout(() => reject(new Error('every replica ended before the guest\'s exit was released')), 200))),
      new Promise<number>((_, reject) => setTimeout(() => reject(new Error(`the drill did not end within ${deadline} ms`)), deadline).unref()),
    ]);
    const sinceKill = (epoch: number, at: number | undefined): number | undefined =>
      at === undefined || killedAt[epoch - 1] === undefined ? undefined : at - killedAt[epoch - 1]!;
    const takeovers: DrillReport['takeovers'] = relay.stats.announced
      .filter((a) => a.epoch > 0)
      .map((a) => ({
        replica: a.replica,
        epoch: a.epoch,
        announcedAfterKillMs: sinceKill(a.epoch, a.at),
        liveAfterKillMs: sinceKill(a.epoch, relay.stats.live.find((l) => l.epoch === a.epoch)?.at),
      }))
      .sort((x, y) => x.epoch - y.epoch);
    const all = Buffer.concat(output);
    return {
      exitCode,
      output: all,
      killedAt,
      takeovers,
      releasedBy: Object.fromEntries(relay.stats.releasedBy),
      duplicateBytes: relay.stats.duplicateBytes,
      gapBytes: relay.stats.gapBytes,
      staleBytes: relay.stats.staleBytes,
      releasedBeforeKill: killedAt.length === 0 ? all.length : releasedAtKill,
      releasedAfterKill: killedAt.length === 0 ? 0 : all.length - releasedAtKill,
      ...(restartedAt !== undefined && rejoinedAt !== undefined ? { rejoinedAfterRestartMs: rejoinedAt - restartedAt } : {}),
    };
  } finally {
    relay.close();
    // A spare never told to listen waits for ever: it goes at once.
    if (spare !== undefined && restartedAt === undefined) spare.kill('SIGKILL');
    // The replicas end by themselves once the guest has exited; anything left is stopped.
    await Promise.all(
      children.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
            child.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
          }),
      ),
    );
    rmSync(leaseDir, { recursive: true, force: true });
  }
}

/** The failover report's lines (stderr of `rrkit replicate`). */
export function formatDrillReport(report: DrillReport): string {
  const lines = [`failover drill: guest exit code ${report.exitCode}, ${report.output.length} output bytes`];
  report.killedAt.forEach((_, i) => lines.push(`  kill ${i + 1}: primary of epoch ${i} killed`));
  for (const t of report.takeovers) {
    const took = t.announcedAfterKillMs === undefined ? '' : ` ${t.announcedAfterKillMs.toFixed(0)} ms after the kill`;
    const when = t.liveAfterKillMs === undefined ? 'no live instruction reported (killed before, or it held the whole log)' : `first live instruction ${t.liveAfterKillMs.toFixed(0)} ms after the kill`;
    lines.push(`  epoch ${t.epoch}: ${t.replica} took over${took}; ${when}`);
  }
  if (report.rejoinedAfterRestartMs !== undefined) {
    lines.push(`  the restarted backup rejoined from a state image ${report.rejoinedAfterRestartMs.toFixed(0)} ms after its restart`);
  }
  lines.push(`  output released before the kill: ${report.releasedBeforeKill} bytes; after: ${report.releasedAfterKill} bytes`);
  lines.push(`  by replica: ${Object.entries(report.releasedBy).map(([r, n]) => `${r} ${n}`).join(', ')}`);
  lines.push(`  duplicates dropped by the relay: ${report.duplicateBytes} bytes; lost (gaps): ${report.gapBytes} bytes`);
  lines.push(`  sent by a superseded primary: ${report.staleBytes} bytes`);
  return lines.join('\n') + '\n';
}
