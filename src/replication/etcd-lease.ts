/**
 * The etcd lease (lease.ts), for replicas on any hosts: `--etcd URL`, `--lease NAME` the
 * key prefix of one replicated guest. Under it:
 *
 *   NAME/epoch/N   {holder, members} of epoch N, kept
 *   NAME/latest    N, the newest epoch
 *   NAME/holder    N, attached to the holder's etcd lease: it exists while that lease lives
 *
 * Taking epoch N+1 is one transaction — `latest` is still N and `holder` is gone (the old
 * etcd lease expired or was revoked) → put `latest`, `epoch/N+1` and `holder` with the new
 * etcd lease — so exactly one replica takes it. The holder renews with a keepalive every
 * TTL / 4; an answer proves the lease until (when the keepalive was sent) + TTL, since etcd
 * counts the TTL from when it received it. An answer with no TTL left (expired, revoked)
 * loses it, and so does failing to reach etcd until the lease's time is up.
 *
 * A new holder releases nothing for one TTL after it won: etcd does not tell an expired
 * lease (whose holder's own clock stopped it already) from a revoked one, whose holder may
 * believe in it until its last renewal + TTL. etcd's TTLs are whole seconds, at least 1.
 */
import type { Etcd3, Namespace } from 'etcd3';
import type { HeldLease, LeaseContent, LeaseStore, TakeOver } from './lease.js';

const now = (): number => Date.now();

/** The etcd TTL for a lease time: whole seconds, at least one. */
export const etcdTtlSeconds = (ttlMs: number): number => Math.max(1, Math.ceil(ttlMs / 1000));

/** `--etcd`: comma-separated http://HOST:PORT client URLs. */
export function parseEtcdUrls(raw: string): string[] {
  const urls = raw.split(',').map((u) => u.trim());
  for (const url of urls) {
    if (!/^http:\/\/[^\s/:]+:\d{1,5}\/?$/.test(url)) throw new Error(`--etcd must be http://HOST:PORT (comma-separated for several), not "${url}"`);
  }
  return urls;
}

const describeError = (error: unknown): string => (error instanceof Error ? error.message : String(error)).split('\n')[0]!;

class EtcdLease implements HeldLease {
  private validUntil: number;
  private lostReason: string | undefined;

  constructor(
    private readonly store: EtcdLeaseStore,
    readonly epoch: number,
    /** the etcd lease's ID */
    readonly id: string,
    /** the TTL etcd granted (ms) */
    private readonly ttlMs: number,
    private content: LeaseContent,
    /** when the grant was asked for: the lease is good from there for its TTL */
    validFrom: number,
    readonly safeAt: number,
  ) {
    this.validUntil = validFrom + ttlMs;
  }

  get members(): readonly string[] {
    return this.content.members;
  }

  get renewEveryMs(): number {
    return this.ttlMs / 4;
  }

  get lost(): string | undefined {
    return this.lostReason;
  }

  mayRelease(): boolean {
    const t = now();
    return this.lostReason === undefined && t < this.validUntil && t >= this.safeAt;
  }

  async renew(): Promise<boolean> {
    if (this.lostReason !== undefined) return false;
    const started = now();
    let ttlSeconds: number;
    try {
      ttlSeconds = await this.store.keepAlive(this.id, this.ttlMs);
    } catch (error) {
      // Unreachable: etcd may still hold the lease, but past its time this holder cannot know.
      if (now() >= this.validUntil) return this.lose(`could not renew the etcd lease of epoch ${this.epoch} in its time: ${describeError(error)}`);
      return true;
    }
    if (ttlSeconds <= 0) return this.lose(`the etcd lease of epoch ${this.epoch} expired or was revoked`);
    this.validUntil = Math.max(this.validUntil, started + ttlSeconds * 1000);
    return true;
  }

  async setMembers(members: string[]): Promise<boolean> {
    if (this.lostReason !== undefined) return false;
    const content = { ...this.content, members };
    let written: boolean;
    try {
      written = await this.store.writeIfHolder(this.epoch, this.id, content);
    } catch (error) {
      return this.lose(`could not record the members of epoch ${this.epoch} in etcd: ${describeError(error)}`);
    }
    if (!written) return this.lose(`the etcd lease of epoch ${this.epoch} is gone`);
    this.content = content;
    return true;
  }

  private lose(reason: string): false {
    this.lostReason = reason;
    return false;
  }
}

export class EtcdLeaseStore implements LeaseStore {
  private constructor(
    private readonly client: Etcd3,
    private readonly ns: Namespace,
    readonly where: string,
    private readonly ttlSeconds: number,
  ) {}

  /** Connects, and checks in one round trip that etcd answers. */
  static async open(etcd: string, name: string, ttlMs: number): Promise<EtcdLeaseStore> {
    const hosts = parseEtcdUrls(etcd);
    // etcd3 is CommonJS; loaded here only (it and gRPC cost every other command start-up time).
    const module = (await import('etcd3')) as typeof import('etcd3') & { default?: typeof import('etcd3') };
    const Client = module.Etcd3 ?? module.default!.Etcd3;
    const ttlSeconds = etcdTtlSeconds(ttlMs);
    const callMs = Math.max(2000, ttlSeconds * 1000);
    const client = new Client({
      hosts,
      dialTimeout: callMs,
      defaultCallOptions: (context) => (context.isStream ? {} : { deadline: now() + callMs }),
    });
    const store = new EtcdLeaseStore(client, client.namespace(`${name}/`), `etcd ${etcd}, ${name}`, ttlSeconds);
    try {
      await store.ns.get('latest').exec();
    } catch (error) {
      client.close();
      throw new Error(`cannot reach etcd at ${etcd}: ${describeError(error)}`);
    }
    return store;
  }

  async acquireFirst(content: LeaseContent): Promise<HeldLease> {
    const latest = await this.latest();
    if (latest !== undefined && (await this.holderExists())) throw new Error(`the lease ${this.where} is held (epoch ${latest.epoch}); is another primary running?`);
    const epoch = latest === undefined ? 0 : latest.epoch + 1;
    const taken = await this.take(epoch, latest?.modRevision ?? '0', content);
    if (taken === undefined) throw new Error(`another replica took the lease ${this.where} (epoch ${epoch}) first`);
    // An older epoch's lease may have been revoked under a holder that still believes in it.
    return new EtcdLease(this, epoch, taken.id, taken.ttlMs, content, taken.asked, epoch === 0 ? now() : now() + taken.ttlMs);
  }

  async tryTakeOver(me: string): Promise<TakeOver> {
    const latest = await this.latest();
    if (latest === undefined) return { kind: 'lost', reason: `no lease ${this.where}` };
    const previous = JSON.parse((await this.ns.get(`epoch/${latest.epoch}`).string()) ?? '{}') as LeaseContent;
    if (previous.holder === me) return { kind: 'lost', reason: `we already hold epoch ${latest.epoch}` };
    if (!(previous.members ?? []).includes(me)) return { kind: 'lost', reason: `not a member of epoch ${latest.epoch} (the primary dropped us)` };
    if (await this.holderExists()) return { kind: 'held' };
    const content = { holder: me, members: previous.members.filter((m) => m !== me) };
    const taken = await this.take(latest.epoch + 1, latest.modRevision, content);
    if (taken === undefined) return { kind: 'lost', reason: `another backup took epoch ${latest.epoch + 1}` };
    const lease = new EtcdLease(this, latest.epoch + 1, taken.id, taken.ttlMs, content, taken.asked, now() + taken.ttlMs);
    return { kind: 'won', lease, previous };
  }

  async close(): Promise<void> {
    this.client.close();
  }

  /** One keepalive; the TTL etcd has left for the lease (≤ 0: expired or revoked). */
  async keepAlive(id: string, withinMs: number): Promise<number> {
    const stream = await this.client.leaseClient.leaseKeepAlive({ deadline: now() + withinMs });
    try {
      return await new Promise<number>((resolve, reject) => {
        stream.on('data', (response) => resolve(Number(response.TTL)));
        stream.on('error', reject);
        stream.on('end', () => reject(new Error('the keepalive stream ended unanswered')));
        stream.write({ ID: id });
      });
    } finally {
      stream.end();
    }
  }

  /** Writes epoch N's content while `id` still holds it. */
  async writeIfHolder(epoch: number, id: string, content: LeaseContent): Promise<boolean> {
    const result = await this.ns
      .if('holder', 'Lease', '==', id)
      .and('latest', 'Value', '==', String(epoch))
      .then(this.ns.put(`epoch/${epoch}`).value(JSON.stringify(content)))
      .commit();
    return result.succeeded;
  }

  private async latest(): Promise<{ epoch: number; modRevision: string } | undefined> {
    const kv = (await this.ns.get('latest').exec()).kvs[0];
    return kv === undefined ? undefined : { epoch: Number(kv.value.toString('utf8')), modRevision: kv.mod_revision };
  }

  private async holderExists(): Promise<boolean> {
    return (await this.ns.get('holder').exec()).kvs.length > 0;
  }

  /** Epoch `epoch` with a fresh etcd lease, if `latest` is still at `latestRevision` and nobody holds it. */
  private async take(epoch: number, latestRevision: string, content: LeaseContent): Promise<{ id: string; ttlMs: number; asked: number } | undefined> {
    const asked = now();
    const grant = await this.client.leaseClient.leaseGrant({ TTL: this.ttlSeconds });
    const result = await this.ns
      .if('latest', 'Mod', '==', latestRevision)
      .and('holder', 'Create', '==', 0)
      .then(
        this.ns.put('latest').value(String(epoch)),
        this.ns.put(`epoch/${epoch}`).value(JSON.stringify(content)),
        this.ns.put('holder').value(String(epoch)).lease(grant.ID),
      )
      .commit();
    if (result.succeeded) return { id: grant.ID, ttlMs: Number(grant.TTL) * 1000, asked };
    await this.client.leaseClient.leaseRevoke({ ID: grant.ID }).catch(() => {});
    return undefined;
  }
}
