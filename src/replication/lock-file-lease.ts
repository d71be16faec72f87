/**
 * The lock-file lease (lease.ts), the embedded default for replicas on one host: a
 * directory of lock files. Epoch N's lease is the file `lease.N`, created
 * exclusively (see create) — whoever creates it holds epoch N, and nobody else can. It holds JSON
 * {holder, members}: the backups the holder counts in its output rule (only they may take
 * over). The holder renews it every ttl/4 by setting its mtime; it is expired once its
 * mtime is more than ttl old.
 *
 * Renew: check no lease.N+1 exists, set the mtime, check again — the lease is then good
 * until (start of the renewal) + ttl. Take over: stat lease.N (expired, and we are a
 * member), create lease.N+1, stat lease.N again: if the mtime moved, a renewal slipped in
 * between and the old holder may believe in its lease until that renewal + ttl, so the new
 * holder waits that long before it releases output (`safeAt`). A holder whose renewal finds
 * a successor has lost its lease and must release nothing more. docs/replication.md.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, linkSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { HeldLease, LeaseContent, LeaseStore, TakeOver } from './lease.js';

const now = (): number => Date.now();
const leaseFile = (dir: string, epoch: number): string => join(dir, `lease.${epoch}`);

/** The highest epoch with a lease file in `dir` (-1: none). */
export function currentEpoch(dir: string): number {
  let max = -1;
  for (const name of readdirSync(dir)) {
    const m = /^lease\.(\d+)$/.exec(name);
    if (m !== null) max = Math.max(max, Number(m[1]));
  }
  return max;
}

export function readLease(dir: string, epoch: number): LeaseContent {
  return JSON.parse(readFileSync(leaseFile(dir, epoch), 'utf8')) as LeaseContent;
}

/**
 * Creates lease.epoch if nobody has. The content goes into a private file first, which is
 * then hard-linked to the lease's name: link() fails with EEXIST as O_EXCL would, and the
 * file appears whole, so nobody reads a lease half written (open-then-write let a backup
 * parse an empty lease and crash).
 */
function create(dir: string, epoch: number, content: LeaseContent): boolean {
  const draft = join(dir, `.lease.${epoch}.${process.pid}.${randomBytes(4).toString('hex')}`);
  writeFileSync(draft, JSON.stringify(content), { flag: 'wx' });
  try {
    const t = now() / 1000;
    utimesSync(draft, t, t);
    linkSync(draft, leaseFile(dir, epoch));
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    unlinkSync(draft);
  }
}

export class LockFileLease implements HeldLease {
  private validUntil: number;
  private lostReason: string | undefined;

  constructor(
    readonly dir: string,
    readonly epoch: number,
    readonly ttlMs: number,
    private content: LeaseContent,
    /** when the new holder may release output (a renewal of the previous holder may still count until then) */
    readonly safeAt: number,
  ) {
    this.validUntil = now() + ttlMs;
  }

  /** A first lease: the next epoch in `dir` (a fresh directory: epoch 0). Throws if someone holds it. */
  static acquireFirst(dir: string, ttlMs: number, content: LeaseContent): LockFileLease {
    const epoch = currentEpoch(dir) + 1;
    if (epoch > 0) {
      const previous = statSync(leaseFile(dir, epoch - 1)).mtimeMs;
      if (previous + ttlMs > Date.now()) throw new Error(`the lease in ${dir} is held (epoch ${epoch - 1}); is another primary running?`);
    }
    if (!create(dir, epoch, content)) throw new Error(`another replica took the lease in ${dir} (epoch ${epoch}) first`);
    return new LockFileLease(dir, epoch, ttlMs, content, now());
  }

  get members(): readonly string[] {
    return this.content.members;
  }

  get renewEveryMs(): number {
    return Math.max(5, this.ttlMs / 4);
  }

  /** Whether output may leave now: the lease is good and not lost, and any older holder's is over. */
  mayRelease(): boolean {
    const t = now();
    return this.lostReason === undefined && t < this.validUntil && t >= this.safeAt;
  }

  get lost(): string | undefined {
    return this.lostReason;
  }

  async renew(): Promise<boolean> {
    return this.renewNow();
  }

  async setMembers(members: string[]): Promise<boolean> {
    return this.setMembersNow(members);
  }

  /** Renews; false (and `lost` says why) once a successor exists. */
  renewNow(): boolean {
    if (this.lostReason !== undefined) return false;
    const started = now();
    const path = leaseFile(this.dir, this.epoch);
    if (existsSync(leaseFile(this.dir, this.epoch + 1))) return this.lose(`replica ${readLease(this.dir, this.epoch + 1).holder} took over (epoch ${this.epoch + 1})`);
    utimesSync(path, started / 1000, started / 1000);
    if (existsSync(leaseFile(this.dir, this.epoch + 1))) return this.lose(`replica ${readLease(this.dir, this.epoch + 1).holder} took over (epoch ${this.epoch + 1})`);
    this.validUntil = started + this.ttlMs;
    return true;
  }

  /** Records a new member list (a backup dropped or added) before the output rule counts on it. */
  setMembersNow(members: string[]): boolean {
    if (!this.renewNow()) return false;
    this.content = { ...this.content, members };
    const path = leaseFile(this.dir, this.epoch);
    const draft = join(this.dir, `.lease.${this.epoch}.${process.pid}.members`);
    writeFileSync(draft, JSON.stringify(this.content));
    renameSync(draft, path);
    return this.renewNow();
  }

  private lose(reason: string): false {
    this.lostReason = reason;
    return false;
  }
}

/** A member `me` tries to take over from the holder of the newest epoch. */
export function tryTakeOver(dir: string, me: string, ttlMs: number): TakeOver {
  const epoch = currentEpoch(dir);
  if (epoch < 0) return { kind: 'lost', reason: `no lease in ${dir}` };
  const path = leaseFile(dir, epoch);
  const before = statSync(path).mtimeMs;
  const previous = readLease(dir, epoch);
  if (previous.holder === me) return { kind: 'lost', reason: `we already hold epoch ${epoch}` };
  if (!previous.members.includes(me)) return { kind: 'lost', reason: `not a member of epoch ${epoch} (the primary dropped us)` };
  if (before + ttlMs >= Date.now()) return { kind: 'held' };
  const members = previous.members.filter((m) => m !== me);
  if (!create(dir, epoch + 1, { holder: me, members })) return { kind: 'lost', reason: `another backup took epoch ${epoch + 1}` };
  const after = statSync(path).mtimeMs;
  const safeAt = after === before ? now() : after + ttlMs;
  return { kind: 'won', lease: new LockFileLease(dir, epoch + 1, ttlMs, { holder: me, members }, safeAt), previous };
}

export class LockFileLeaseStore implements LeaseStore {
  constructor(
    readonly dir: string,
    readonly ttlMs: number,
  ) {}

  async acquireFirst(content: LeaseContent): Promise<HeldLease> {
    mkdirSync(this.dir, { recursive: true });
    return LockFileLease.acquireFirst(this.dir, this.ttlMs, content);
  }

  async tryTakeOver(me: string): Promise<TakeOver> {
    return tryTakeOver(this.dir, me, this.ttlMs);
  }

  async close(): Promise<void> {}
}
