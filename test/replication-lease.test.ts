/**
 * The lease stores behind one interface (src/replication/lease.ts) — lock files, and etcd
 * (a real etcd on loopback, started here on free ports and stopped after) — each through the
 * same cases; then what only etcd has: a revoked lease, an etcd that is not there.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEtcd, type EtcdServer } from '../experiments/lib/etcd-server.js';
import { openLeaseStore, type HeldLease, type LeaseStore, type TakeOver } from '../src/replication/lease.js';
import { LockFileLease, tryTakeOver } from '../src/replication/lock-file-lease.js';

let etcd: EtcdServer | undefined;
let admin: Etcd3 | undefined;
const dirs: string[] = [];
const stores: LeaseStore[] = [];

beforeAll(async () => {
  etcd = await startEtcd();
  admin = new Etcd3({ hosts: etcd.url });
}, 60_000);

afterAll(async () => {
  for (const store of stores) await store.close();
  admin?.close();
  await etcd?.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** One guest's leases as two replicas see them (two stores, two connections), and a way to make the holder's lapse. */
interface Fixture {
  ttlMs: number;
  mine: LeaseStore;
  theirs: LeaseStore;
  /** the current holder's lease lapses as if it had stopped renewing (or was revoked) */
  lapse(): Promise<void>;
}

const open = async (name: string, ttlMs: number, url?: string): Promise<LeaseStore> => {
  const store = await openLeaseStore({ name, ttlMs, ...(url === undefined ? {} : { etcd: url }) });
  stores.push(store);
  return store;
};

const kinds: { kind: string; fixture: () => Promise<Fixture> }[] = [
  {
    kind: 'lock files',
    fixture: async () => {
      const dir = mkdtempSync(join(tmpdir(), 'rrkit-lease-'));
      dirs.push(dir);
      const ttlMs = 200;
      return {
        ttlMs,
        mine: await open(dir, ttlMs),
        theirs: await open(dir, ttlMs),
        lapse: async () => {
          const newest = readdirSync(dir).filter((n) => /^lease\.\d+$/.test(n)).sort((a, b) => Number(a.slice(6)) - Number(b.slice(6))).at(-1)!;
          const t = (Date.now() - 2 * ttlMs) / 1000;
          utimesSync(join(dir, newest), t, t);
        },
      };
    },
  },
  {
    kind: 'etcd',
    fixture: async () => {
      const name = `rrkit-test/${Math.random().toString(36).slice(2)}`;
      const ttlMs = 1000;
      return {
        ttlMs,
        mine: await open(name, ttlMs, etcd!.url),
        theirs: await open(name, ttlMs, etcd!.url),
        lapse: () => revokeHolder(name),
      };
    },
  },
];

/** Revokes the etcd lease that holds `name`'s newest epoch (an operator fencing the primary). */
async function revokeHolder(name: string): Promise<void> {
  const kv = (await admin!.get(`${name}/holder`).exec()).kvs[0];
  if (kv === undefined) throw new Error(`nobody holds ${name}`);
  await admin!.leaseClient.leaseRevoke({ ID: kv.lease });
}

/** Renews `lease` as its holder would, until it may release. */
async function renewUntilReleasing(lease: HeldLease, withinMs: number): Promise<void> {
  const until = Date.now() + withinMs;
  while (!lease.mayRelease()) {
    if (Date.now() > until) throw new Error(`the new holder could not release within ${withinMs} ms`);
    expect(await lease.renew()).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const won = (t: TakeOver): HeldLease => {
  if (t.kind !== 'won') throw new Error(`expected a takeover, got ${JSON.stringify(t)}`);
  return t.lease;
};

describe.each(kinds)('the lease in $kind', ({ fixture }) => {
  it('a first lease is epoch 0 and may release; a second over it, while held, is refused in one line', async () => {
    const f = await fixture();
    const lease = await f.mine.acquireFirst({ holder: 'p', members: ['b1'] });
    expect(lease.epoch).toBe(0);
    expect(lease.members).toEqual(['b1']);
    expect(lease.mayRelease()).toBe(true);
    await expect(f.theirs.acquireFirst({ holder: 'q', members: [] })).rejects.toThrow(/^the lease .* is held \(epoch 0\); is another primary running\?$/);
  }, 30_000);

  it('a held lease cannot be taken over; a lapsed one by exactly one member, and the old holder loses it at its next renewal', async () => {
    const f = await fixture();
    const primary = await f.mine.acquireFirst({ holder: 'p', members: ['b1', 'b2'] });
    expect(await f.theirs.tryTakeOver('b1')).toEqual({ kind: 'held' });
    await f.lapse();
    const attempts = await Promise.all([f.mine.tryTakeOver('b1'), f.theirs.tryTakeOver('b2')]);
    const winners = attempts.filter((a) => a.kind === 'won');
    expect(winners, JSON.stringify(attempts)).toHaveLength(1);
    const lease = won(winners[0]!);
    expect(lease.epoch).toBe(1);
    expect(lease.members).toHaveLength(1); // the other member
    expect(await primary.renew()).toBe(false);
    expect(primary.mayRelease()).toBe(false);
    expect(primary.lost).toMatch(/took over \(epoch 1\)|the etcd lease of epoch 0 expired or was revoked/);
    await renewUntilReleasing(lease, 3 * f.ttlMs);
  }, 30_000);

  it('a member the holder dropped cannot take over; the one left can', async () => {
    const f = await fixture();
    const primary = await f.mine.acquireFirst({ holder: 'p', members: ['b1', 'b2'] });
    expect(await primary.setMembers(['b2'])).toBe(true);
    expect(primary.members).toEqual(['b2']);
    await f.lapse();
    expect(await f.theirs.tryTakeOver('b1')).toEqual({ kind: 'lost', reason: 'not a member of epoch 0 (the primary dropped us)' });
    expect(await f.theirs.tryTakeOver('p')).toEqual({ kind: 'lost', reason: 'we already hold epoch 0' });
    expect(won(await f.theirs.tryTakeOver('b2')).members).toEqual([]);
  }, 30_000);

  it('a holder that does not renew stops releasing when its time is up', async () => {
    const f = await fixture();
    const lease = await f.mine.acquireFirst({ holder: 'p', members: [] });
    expect(lease.mayRelease()).toBe(true);
    expect(lease.renewEveryMs).toBe(f.ttlMs / 4);
    await new Promise((resolve) => setTimeout(resolve, f.ttlMs + 50));
    expect(lease.mayRelease()).toBe(false);
  }, 30_000);
});

describe('the lease in etcd only', () => {
  it('a revoked lease: the holder stops at its next renewal, and the next holder releases nothing for one TTL', async () => {
    const name = `rrkit-test/${Math.random().toString(36).slice(2)}`;
    const mine = await open(name, 1000, etcd!.url);
    const theirs = await open(name, 1000, etcd!.url);
    const primary = await mine.acquireFirst({ holder: 'p', members: ['b'] });
    expect(await primary.renew()).toBe(true);
    await revokeHolder(name);
    const lease = won(await theirs.tryTakeOver('b'));
    const wonAt = Date.now();
    // The old holder may not have renewed since the revocation: the new one waits out its time.
    expect(lease.mayRelease()).toBe(false);
    expect(await primary.renew()).toBe(false);
    expect(primary.lost).toBe('the etcd lease of epoch 0 expired or was revoked');
    expect(primary.mayRelease()).toBe(false);
    await renewUntilReleasing(lease, 3000);
    expect(Date.now() - wonAt).toBeGreaterThanOrEqual(900);
  }, 30_000);

  it('a holder that stops renewing: etcd expires its lease after the TTL, and only then can a member take over', async () => {
    const name = `rrkit-test/${Math.random().toString(36).slice(2)}`;
    const mine = await open(name, 1000, etcd!.url);
    const theirs = await open(name, 1000, etcd!.url);
    // etcd counts the TTL from the grant, which comes after this.
    const started = Date.now();
    const primary = await mine.acquireFirst({ holder: 'p', members: ['b'] });
    expect(await theirs.tryTakeOver('b')).toEqual({ kind: 'held' });
    let taken: TakeOver = { kind: 'held' };
    while (taken.kind === 'held' && Date.now() - started < 10_000) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      taken = await theirs.tryTakeOver('b');
    }
    expect(won(taken).epoch).toBe(1);
    // By the time etcd let the member in, the holder's own clock had stopped it.
    expect(primary.mayRelease()).toBe(false);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
  }, 30_000);

  it('an etcd that is not there, or a bad URL, gets one line', async () => {
    const { createServer } = await import('node:net');
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const a = s.address();
        s.close(() => resolve(typeof a === 'object' && a !== null ? a.port : 0));
      });
    });
    await expect(openLeaseStore({ name: 'x', ttlMs: 1000, etcd: `http://127.0.0.1:${port}` })).rejects.toThrow(new RegExp(`^cannot reach etcd at http://127\\.0\\.0\\.1:${port}: [^\\n]+$`));
    await expect(openLeaseStore({ name: 'x', ttlMs: 1000, etcd: '127.0.0.1:2379' })).rejects.toThrow(/^--etcd must be http:\/\/HOST:PORT \(comma-separated for several\), not "127\.0\.0\.1:2379"$/);
  }, 30_000);
});

describe('the lease in lock files only', () => {
  it('a new epoch appears whole: a replica reading leases while they are created never finds one half written', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rrkit-lease-race-'));
    dirs.push(dir);
    // Another process reads every lease file as fast as it can, as a backup polling for a
    // takeover does, until `stop` appears; an empty or partial lease fails its JSON.parse.
    const reader = spawn(process.execPath, ['-e', `
      const fs = require('node:fs'), path = require('node:path');
      const dir = ${JSON.stringify(dir)};
      let reads = 0;
      while (!fs.existsSync(path.join(dir, 'stop'))) {
        for (const name of fs.readdirSync(dir)) {
          if (!/^lease\\.\\d+$/.test(name)) continue;
          const text = fs.readFileSync(path.join(dir, name), 'utf8');
          try { JSON.parse(text); } catch { console.log('half-written ' + name + ': ' + JSON.stringify(text)); process.exit(1); }
          reads++;
        }
      }
      console.log('reads ' + reads);
    `]);
    let out = '';
    reader.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => reader.on('exit', resolve));
    const ttlMs = 1;
    let lease: HeldLease = LockFileLease.acquireFirst(dir, ttlMs, { holder: 'a', members: ['b'] });
    const members = ['a', 'b'];
    for (let i = 0; i < 400; i++) {
      // The holder lapses; the other member takes over with the first back as its member.
      const t = (Date.now() - 1000) / 1000;
      utimesSync(join(dir, `lease.${lease.epoch}`), t, t);
      const me = members[(i + 1) % 2]!;
      const taken = tryTakeOver(dir, me, ttlMs);
      lease = won(taken);
      expect(lease.epoch).toBe(i + 1);
      // The new holder counts the old one back in (a rejoined backup), rewriting its lease.
      expect(await lease.setMembers([members[i % 2]!])).toBe(true);
      if (i % 50 === 0) await new Promise((resolve) => setTimeout(resolve, 1));
    }
    writeFileSync(join(dir, 'stop'), '');
    expect(await exited, out).toBe(0);
    expect(out).toMatch(/^reads [1-9]\d*\n$/);
    // Nothing but the leases and the stop file is left behind.
    expect(readdirSync(dir).filter((n) => !/^lease\.\d+$/.test(n))).toEqual(['stop']);
  }, 60_000);
});
