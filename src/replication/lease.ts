/**
 * The lease that makes exactly one replica the primary, and the one interface its stores
 * implement: a directory of lock files, the embedded default for replicas on one host
 * (lock-file-lease.ts), or etcd (`--etcd URL`, etcd-lease.ts) for replicas anywhere.
 *
 * Epoch N's lease names its holder and its members: the backups the holder counts in its
 * output rule, the only replicas that may take over. A holder releases output only while
 * `mayRelease()` — judged from its own clock against what its last renewal proved, never
 * waiting on the store — so a holder that cannot renew (stopped, cut off) stops releasing at
 * once when its time is up, before anyone else can take the next epoch. docs/replication.md.
 */

import { LockFileLeaseStore } from './lock-file-lease.js';

export interface LeaseContent {
  holder: string;
  members: string[];
}

/** A lease this replica holds. */
export interface HeldLease {
  readonly epoch: number;
  readonly members: readonly string[];
  /** how often the holder renews (a quarter of the lease's time) */
  readonly renewEveryMs: number;
  /** Whether output may leave now: the lease is good and not lost, and any older holder's is over. */
  mayRelease(): boolean;
  /** why the lease was lost; undefined while held */
  readonly lost: string | undefined;
  /** Renews; false (and `lost` says why) once it is lost. */
  renew(): Promise<boolean>;
  /** Records a new member list (a backup dropped) before the output rule counts on it; false once lost. */
  setMembers(members: string[]): Promise<boolean>;
}

export type TakeOver =
  | { kind: 'won'; lease: HeldLease; previous: LeaseContent }
  /** the holder is still renewing */
  | { kind: 'held' }
  /** another replica took the next epoch, or we are not a member */
  | { kind: 'lost'; reason: string };

/** Where the leases of one replicated guest live. */
export interface LeaseStore {
  /** A first lease: the next epoch (a fresh store: epoch 0). Throws, in one line, if someone holds the current one. */
  acquireFirst(content: LeaseContent): Promise<HeldLease>;
  /** A member `me` tries to take over from the holder of the newest epoch. */
  tryTakeOver(me: string): Promise<TakeOver>;
  /** Lets go of the store's connection; a lease held then lapses by itself. */
  close(): Promise<void>;
}

export interface LeaseStoreOptions {
  /** the lock files' directory; with `etcd`, the key prefix of this guest's leases */
  name: string;
  /** etcd's client URL(s), comma-separated; absent: lock files */
  etcd?: string;
  /** the lease's time (the heartbeat timeout); etcd rounds it up to whole seconds */
  ttlMs: number;
}

export async function openLeaseStore(options: LeaseStoreOptions): Promise<LeaseStore> {
  if (options.etcd === undefined) return new LockFileLeaseStore(options.name, options.ttlMs);
  // Loaded only here: the etcd client and gRPC cost start-up time every other command would pay.
  const { EtcdLeaseStore } = await import('./etcd-lease.js');
  return EtcdLeaseStore.open(options.etcd, options.name, options.ttlMs);
}
