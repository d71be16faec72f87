/**
 * `rrkit replica primary|backup|attach`: replicas of one guest as processes talking TCP
 * (src/replication/, docs/replication.md), and `rrkit replicate`, the failover drill.
 */
import { readFileSync } from 'node:fs';
import type { Argv, CommandModule } from 'yargs';
import type { Engine } from '../../engines/engine.js';
import { ENGINE_NAMES } from '../../engines/index.js';
import { parseAddress } from '../../replication/address.js';
import { Backup } from '../../replication/backup.js';
import { drill, formatDrillReport } from '../../replication/drill.js';
import { engineMain } from '../../replication/engine-main.js';
import { EngineProcess } from '../../replication/engine-process.js';
import { parseEtcdUrls } from '../../replication/etcd-lease.js';
import { openLeaseStore, type LeaseStore } from '../../replication/lease.js';
import { DEFAULT_MAX_LAG_BYTES, Primary, type PrimaryEnd } from '../../replication/primary.js';
import { numberOption } from '../number-option.js';
import { Relay } from '../../replication/relay.js';
import { UsageError } from '../errors.js';
import { readRegularFile } from '../../files/regular-file.js';
import { checkDiskOption, checkVcpus, guestAndEngine } from '../machine-args.js';
import { helloDisk, replicaDisk } from '../../replication/replica-disk.js';

/** The drill feeds its console input to whichever replica is primary, so it holds it whole: a bounded file, or stdin. */
const MAX_DRILL_INPUT_BYTES = 64 << 20;

function drillInput(path: string | undefined): Buffer | undefined {
  if (path === undefined) return undefined;
  if (path === '-') return readFileSync(0);
  return readRegularFile(path, '--input', MAX_DRILL_INPUT_BYTES);
}

/** Heartbeats every timeout/4; a replica silent this long is taken as gone. */
export const DEFAULT_HEARTBEAT_TIMEOUT_MS = 300;

const say = (line: string): void => {
  process.stderr.write(`rrkit replica: ${line}\n`);
};

/**
 * A backup takes over by a replay that goes live at the end of its log (then-run): emu and
 * kvm, on any vCPU count (kvm SMP: docs/kvm-smp.md, "Going live").
 */
function checkReplicable(engine: Engine): void {
  if (engine.name !== 'emu' && engine.name !== 'kvm') {
    throw new UsageError(`replication needs an engine whose replay goes live at the end of the log (--then-run); ${engine.name} does not`);
  }
}

/** `--disk FILE [--disk-shared]`, checked for the engine: the replica's copy of the guest's disk, hashed for HELLO. */
async function diskArgs(disk: string | undefined, shared: boolean, engine: Engine): Promise<Awaited<ReturnType<typeof replicaDisk>>> {
  if (shared && disk === undefined) throw new UsageError('--disk-shared needs --disk');
  checkDiskOption(disk, engine);
  return replicaDisk(disk, shared);
}

/** `--etcd`, checked: the lease in etcd instead of lock files. */
function etcdOption(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  try {
    parseEtcdUrls(raw);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  return raw;
}

/** The lease store a replica's arguments name, closed after `use` (an etcd client would keep the process alive). */
async function withLeases<T>(args: CommonArgs, use: (leases: LeaseStore) => Promise<T>): Promise<T> {
  const leases = await openLeaseStore({ name: args.lease, etcd: etcdOption(args.etcd), ttlMs: checkTimeoutMs(args['heartbeat-timeout']) });
  try {
    return await use(leases);
  } finally {
    await leases.close();
  }
}

function checkTimeoutMs(ms: number): number {
  if (!Number.isInteger(ms) || ms < 20 || ms > 600_000) throw new UsageError(`--heartbeat-timeout must be an integer number of ms from 20 to 600000, not ${ms}`);
  return ms;
}

/** --max-lag: at least one 4 KiB page of log; at most 1 GiB (the primary keeps that much to resend). */
function maxLagOption(raw: string | undefined): number {
  return numberOption('--max-lag', raw, { integer: true, min: 4096, max: 1 << 30, unit: 'bytes of log' }) ?? DEFAULT_MAX_LAG_BYTES;
}

function exitWith(end: PrimaryEnd | { kind: 'bye'; exitCode: number }): void {
  switch (end.kind) {
    case 'exited':
    case 'bye':
      process.exitCode = end.exitCode;
      return;
    case 'lost-lease':
      say(`lost the lease (${end.reason}): released nothing more, stopped`);
      process.exitCode = 3;
      return;
    case 'failed':
      say(end.message);
      process.exitCode = 2;
      return;
  }
}

interface CommonArgs {
  guest: string;
  engine: string | undefined;
  lease: string;
  etcd: string | undefined;
  'heartbeat-timeout': number;
  disk: string | undefined;
}

const common = (y: Argv): Argv =>
  y
    .positional('guest', { type: 'string', demandOption: true, describe: 'built-in workload name or ELF path (the same image on every replica)' })
    .option('engine', { choices: ENGINE_NAMES, describe: 'execution engine (default: by the ELF machine type)' })
    .option('lease', { type: 'string', demandOption: true, describe: 'directory of the lock-file lease, shared by the replicas on this host; with --etcd, the key prefix of this guest\'s lease' })
    .option('etcd', { type: 'string', describe: 'take the lease in etcd (http://HOST:PORT, comma-separated for several) instead of lock files: replicas on any hosts' })
    .option('heartbeat-timeout', { type: 'number', default: DEFAULT_HEARTBEAT_TIMEOUT_MS, describe: 'ms of silence after which a replica counts as gone (also the lease time)' })
    .option('disk', { type: 'string', describe: 'kvm: this replica\'s copy of the guest\'s disk image (the same image on every replica)' });

interface PrimaryArgs extends CommonArgs {
  backup: string | string[] | undefined;
  vcpus: number;
  output: string | undefined;
  name: string;
  'corrupt-frame': number | undefined;
  'die-mid-frame': number | undefined;
  'max-lag': string | undefined;
  'disk-shared': boolean;
}

const primaryCommand: CommandModule<object, PrimaryArgs> = {
  command: 'primary <guest>',
  describe: 'record the guest, stream each sealed log chunk to the backups, release output by the output rule',
  builder: (y: Argv) =>
    common(y)
      .option('backup', { type: 'string', describe: 'a backup\'s HOST:PORT (repeat for each)' })
      .option('vcpus', { type: 'number', default: 1 })
      .option('output', { type: 'string', describe: 'send the guest\'s output to this receiver (rrkit replica attach) instead of stdout' })
      .option('name', { type: 'string', default: 'primary', describe: 'this replica\'s name in the lease and messages' })
      .option('max-lag', { type: 'string', describe: `log bytes a live backup may leave unacknowledged before the guest waits for it (default ${DEFAULT_MAX_LAG_BYTES})` })
      .option('disk-shared', { type: 'boolean', default: false, describe: 'with --disk: log where disk reads came from, not their bytes (each backup reads its own copy)' })
      .option('corrupt-frame', { type: 'number', hidden: true, describe: 'test: corrupt log frame N on the wire once' })
      .option('die-mid-frame', { type: 'number', hidden: true, describe: 'test: SIGKILL itself halfway through sending log frame N' }) as unknown as Argv<PrimaryArgs>,
  handler: async (args) => {
    const { image, engine } = await guestAndEngine(args.guest, args.engine, args.disk !== undefined);
    const vcpus = checkVcpus(args.vcpus, engine);
    checkReplicable(engine);
    const disk = await diskArgs(args.disk, args['disk-shared'], engine);
    const backups = args.backup === undefined ? [] : ([] as string[]).concat(args.backup);
    for (const b of backups) parseAddress(b, '--backup');
    if (args.output !== undefined) parseAddress(args.output, '--output');
    const heartbeatTimeoutMs = checkTimeoutMs(args['heartbeat-timeout']);
    const maxLagBytes = maxLagOption(args['max-lag']);
    const end = await withLeases(args, async (leases) => {
      const lease = await leases.acquireFirst({ holder: args.name, members: backups });
      let primary: Primary | undefined;
      const engineProcess = new EngineProcess(
        { role: 'record', guest: image.path, engine: engine.name, vcpus, disk },
        {
          onLogFrame: (f) => primary!.onLogFrame(f),
          onOutput: (o) => primary!.onOutput(o),
          onLive: (at) => primary!.onLive(at),
          onDone: (d) => primary!.onDone(d),
          onImage: (i) => primary!.onImage(i),
        },
      );
      primary = new Primary(
        {
          name: args.name,
          engineName: engine.name,
          vcpus,
          imageSha256: image.sha256.toString('hex'),
          disk: helloDisk(disk),
          backups,
          output: args.output,
          heartbeatTimeoutMs,
          maxLagBytes,
          lease,
          log: say,
          corruptFrame: args['corrupt-frame'],
          dieMidFrame: args['die-mid-frame'],
          images: engine.name === 'emu',
        },
        engineProcess,
      );
      primary.start({ outputs: [] });
      return primary.done;
    });
    exitWith(end);
  },
};

/**
 * A spare backup (a test hook): a process already started, as a service manager's warm spare
 * would be, that listens only once told (SIGUSR2, after it said it waits for it), at an
 * address its predecessor may still hold for a moment (retried every 10 ms for up to 10 s).
 * It holds no state: to the primary it is a restarted backup.
 */
async function listenOnSignal(backup: Backup, address: string): Promise<void> {
  // A signal handler alone does not keep Node's event loop alive.
  const alive = setInterval(() => {}, 60_000);
  const told = new Promise<void>((resolve) => process.once('SIGUSR2', () => resolve()));
  say(`waiting for SIGUSR2 to listen on ${address}`);
  await told;
  clearInterval(alive);
  const until = Date.now() + 10_000;
  for (;;) {
    try {
      await backup.listen();
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE' || Date.now() > until) throw error;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
}

interface BackupArgs extends CommonArgs {
  listen: string;
  'ack-delay': string | undefined;
  'listen-on-signal': boolean | undefined;
}

const backupCommand: CommandModule<object, BackupArgs> = {
  command: 'backup <guest>',
  describe: 'a hot standby: replay the primary\'s log as it arrives; take over when the primary is lost',
  builder: (y: Argv) =>
    common(y)
      .option('listen', { type: 'string', demandOption: true, describe: 'HOST:PORT to listen on for the primary (port 0: any)' })
      .option('ack-delay', { type: 'string', hidden: true, describe: 'test: a slow backup, each ACK sent this many ms after the previous one' })
      .option('listen-on-signal', {
        type: 'boolean',
        hidden: true,
        describe: 'test: a spare started beforehand (the drill\'s restarted backup): listen only after SIGUSR2, waiting for the address to be free',
      }) as unknown as Argv<BackupArgs>,
  handler: async (args) => {
    const { image, engine } = await guestAndEngine(args.guest, args.engine, args.disk !== undefined);
    checkReplicable(engine);
    parseAddress(args.listen, '--listen');
    const disk = await diskArgs(args.disk, false, engine);
    const ackDelayMs = numberOption('--ack-delay', args['ack-delay'], { integer: true, min: 0, max: 60_000, unit: 'ms' });
    const end = await withLeases(args, async (leases) => {
      const backup = new Backup({
        listen: args.listen,
        guest: image.path,
        imageSha256: image.sha256.toString('hex'),
        disk,
        leases,
        heartbeatTimeoutMs: checkTimeoutMs(args['heartbeat-timeout']),
        ackDelayMs,
        log: say,
        onListening: (address) => say(`listening on ${address}`),
      });
      if (args['listen-on-signal'] === true) await listenOnSignal(backup, args.listen);
      else await backup.listen();
      return backup.done;
    });
    exitWith(end);
  },
};

interface AttachArgs {
  listen: string;
}

const attachCommand: CommandModule<object, AttachArgs> = {
  command: 'attach',
  describe: 'receive the replicated guest\'s output (each byte once, across switchovers) and send it console input',
  builder: (y: Argv) =>
    y.option('listen', { type: 'string', demandOption: true, describe: 'HOST:PORT the primaries send output to (their --output)' }) as unknown as Argv<AttachArgs>,
  handler: async (args) => {
    const { host, port } = parseAddress(args.listen, '--listen');
    const relay = new Relay((bytes) => process.stdout.write(bytes), say);
    say(`listening on ${host}:${await relay.listen(host, port)}`);
    process.stdin.on('data', (bytes: Buffer) => relay.input(bytes));
    process.exitCode = await relay.exit;
    relay.close();
    process.stdin.destroy();
  },
};

interface EngineArgs {
  guest: string;
  role: 'record' | 'standby';
  engine: string;
  vcpus: number;
  disk: string | undefined;
  'disk-shared': boolean;
}

const engineCommand: CommandModule<object, EngineArgs> = {
  command: 'engine <guest>',
  describe: false,
  builder: (y: Argv) =>
    y
      .positional('guest', { type: 'string', demandOption: true })
      .option('role', { choices: ['record', 'standby'] as const, demandOption: true })
      .option('engine', { type: 'string', demandOption: true })
      .option('vcpus', { type: 'number', default: 1 })
      .option('disk', { type: 'string' })
      .option('disk-shared', { type: 'boolean', default: false }) as unknown as Argv<EngineArgs>,
  handler: (args) =>
    engineMain(args.role, args.guest, args.engine, args.vcpus, args.disk === undefined ? undefined : { path: args.disk, shared: args['disk-shared'] }),
};

export const replicaCommand: CommandModule = {
  command: 'replica <role>',
  describe: 'run one replica of a guest: primary, backup, or attach (the output\'s receiver)',
  builder: (y: Argv) => y.command(primaryCommand).command(backupCommand).command(attachCommand).command(engineCommand).demandCommand(1),
  handler: () => {},
};

interface ReplicateArgs {
  guest: string;
  engine: string | undefined;
  vcpus: number;
  backups: number;
  'kill-primary-after': number | undefined;
  'kill-new-primary-after': number | undefined;
  'kill-backup-after': number | undefined;
  'restart-backup-after': number | undefined;
  'heartbeat-timeout': number;
  'corrupt-frame': number | undefined;
  'die-mid-frame': number | undefined;
  'pause-primary': string | undefined;
  'pause-backup': string | undefined;
  'ack-delay': string | undefined;
  'max-lag': string | undefined;
  input: string | undefined;
  disk: string | undefined;
  'disk-shared': boolean;
  etcd: string | undefined;
}

export const replicateCommand: CommandModule<object, ReplicateArgs> = {
  command: 'replicate <guest>',
  describe: 'failover drill: a primary and K backups as processes, the primary killed mid-run; the guest\'s output as the world saw it',
  builder: (y: Argv) =>
    y
      .positional('guest', { type: 'string', demandOption: true, describe: 'built-in workload name or ELF path' })
      .option('engine', { choices: ENGINE_NAMES, describe: 'execution engine (default: by the ELF machine type)' })
      .option('vcpus', { type: 'number', default: 1 })
      .option('backups', { type: 'number', default: 1, describe: 'backups (1..8)' })
      .option('kill-primary-after', { type: 'number', describe: 'SIGKILL the primary this many ms after its guest started' })
      .option('kill-new-primary-after', { type: 'number', describe: 'SIGKILL the first backup that takes over too, this many ms after it did' })
      .option('kill-backup-after', { type: 'number', describe: 'SIGKILL the first backup this many ms after the guest started (the primary goes on)' })
      .option('restart-backup-after', {
        type: 'number',
        describe: 'emu, with --kill-backup-after: start that backup again this many ms after the kill; it rejoins from a state image, and --kill-primary-after counts from then',
      })
      .option('heartbeat-timeout', { type: 'number', default: DEFAULT_HEARTBEAT_TIMEOUT_MS })
      .option('input', { type: 'string', describe: 'console input (a file), sent to the primary once its guest runs' })
      .option('disk', { type: 'string', describe: 'kvm: the guest\'s disk image, which every replica reads' })
      .option('disk-shared', { type: 'boolean', default: false, describe: 'with --disk: the log names where disk reads came from; each backup reads the image itself' })
      .option('etcd', { type: 'string', describe: 'the replicas take their lease in etcd (http://HOST:PORT) instead of lock files' })
      .option('corrupt-frame', { type: 'number', hidden: true })
      .option('die-mid-frame', { type: 'number', hidden: true })
      .option('pause-primary', { type: 'string', hidden: true, describe: 'test: AFTER_MS:FOR_MS, SIGSTOP the primary then SIGCONT it' })
      .option('pause-backup', { type: 'string', hidden: true, describe: 'test: AFTER_MS:FOR_MS, SIGSTOP the first backup then SIGCONT it' })
      .option('ack-delay', { type: 'string', hidden: true, describe: 'test: slow backups, each ACK sent this many ms after the previous one' })
      .option('max-lag', { type: 'string', describe: `log bytes a live backup may leave unacknowledged before the guest waits for it (default ${DEFAULT_MAX_LAG_BYTES})` })
      .example('$0 replicate --backups 2 --kill-primary-after 700 clock-poll', '') as unknown as Argv<ReplicateArgs>,
  handler: async (args) => {
    const { image, engine } = await guestAndEngine(args.guest, args.engine, args.disk !== undefined);
    const vcpus = checkVcpus(args.vcpus, engine);
    checkReplicable(engine);
    const disk = await diskArgs(args.disk, args['disk-shared'], engine);
    if (!Number.isInteger(args.backups) || args.backups < 1 || args.backups > 8) throw new UsageError(`--backups must be an integer from 1 to 8, not ${args.backups}`);
    for (const [name, v] of [
      ['--kill-primary-after', args['kill-primary-after']],
      ['--kill-new-primary-after', args['kill-new-primary-after']],
      ['--kill-backup-after', args['kill-backup-after']],
      ['--restart-backup-after', args['restart-backup-after']],
    ] as const) {
      if (v !== undefined && (!Number.isFinite(v) || v < 0)) throw new UsageError(`${name} must be a non-negative number of ms, not ${v}`);
    }
    if (args['kill-new-primary-after'] !== undefined && args.backups < 2) throw new UsageError('--kill-new-primary-after needs --backups 2 or more');
    if (args['restart-backup-after'] !== undefined && args['kill-backup-after'] === undefined) {
      throw new UsageError('--restart-backup-after restarts the backup --kill-backup-after kills: it needs --kill-backup-after');
    }
    if (args['restart-backup-after'] !== undefined && engine.name !== 'emu') {
      throw new UsageError(`--restart-backup-after: a backup rejoins from a state image, which only the emu engine takes (not ${engine.name})`);
    }
    const pause = (flag: string, raw: string | undefined): { afterMs: number; forMs: number } | undefined => {
      if (raw === undefined) return undefined;
      const m = /^(\d+):(\d+)$/.exec(raw);
      if (m === null) throw new UsageError(`${flag} must be AFTER_MS:FOR_MS, not ${raw}`);
      return { afterMs: Number(m[1]), forMs: Number(m[2]) };
    };
    const maxLagBytes = maxLagOption(args['max-lag']);
    const etcd = etcdOption(args.etcd);
    // Reached once here, so that an etcd that is not there is one line, not every replica failing.
    if (etcd !== undefined) await (await openLeaseStore({ name: 'rrkit-replicate-check', etcd, ttlMs: 1000 })).close();
    const ackDelay = numberOption('--ack-delay', args['ack-delay'], { integer: true, min: 0, max: 60_000, unit: 'ms' });
    const report = await drill({
      pausePrimary: pause('--pause-primary', args['pause-primary']),
      pauseBackup: pause('--pause-backup', args['pause-backup']),
      backupTestArgs: ackDelay === undefined ? [] : ['--ack-delay', String(ackDelay)],
      input: drillInput(args.input),
      etcd,
      guest: image.path,
      engine: engine.name,
      vcpus,
      disk,
      backups: args.backups,
      killPrimaryAfterMs: args['kill-primary-after'],
      killNewPrimaryAfterMs: args['kill-new-primary-after'],
      killBackupAfterMs: args['kill-backup-after'],
      restartBackupAfterMs: args['restart-backup-after'],
      primaryTestArgs: [
        ...(args['corrupt-frame'] === undefined ? [] : ['--corrupt-frame', String(args['corrupt-frame'])]),
        ...(args['die-mid-frame'] === undefined ? [] : ['--die-mid-frame', String(args['die-mid-frame'])]),
        '--max-lag',
        String(maxLagBytes),
      ],
      heartbeatTimeoutMs: checkTimeoutMs(args['heartbeat-timeout']),
      write: (bytes) => process.stdout.write(bytes),
      log: (line) => process.stderr.write(`${line}\n`),
    });
    process.stderr.write(formatDrillReport(report));
    process.exitCode = report.exitCode;
  },
};
