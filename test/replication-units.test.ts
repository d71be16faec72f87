/** The replication protocol's parts without processes: message framing, log frames, tagged output, the lease. */
import { mkdtempSync, readdirSync, rmSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readLog } from '../src/analysis/log-reader.js';
import { TaggedOutputReader, type TaggedOutput } from '../src/replication/engine-output.js';
import { FrameSpool } from '../src/replication/frame-spool.js';
import { LockFileLease, readLease, tryTakeOver } from '../src/replication/lock-file-lease.js';
import { LogFrameSplitter, type LogFrame } from '../src/replication/log-frames.js';
import { encodeMessage, MessageReader, WireError } from '../src/replication/wire.js';
import { tempDir, writeLog } from './log-fixtures.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const scratch = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'rrkit-lease-'));
  dirs.push(d);
  return d;
};

describe('wire messages', () => {
  it('come through whole whatever the pieces the stream gives', () => {
    const sent = [encodeMessage(4, Buffer.from('first')), encodeMessage(6, Buffer.alloc(0)), encodeMessage(9, Buffer.alloc(70_000, 7))];
    const got: [number, string][] = [];
    const reader = new MessageReader((type, body) => got.push([type, body.toString('hex')]));
    const all = Buffer.concat(sent);
    for (let i = 0; i < all.length; i += 3) reader.push(all.subarray(i, i + 3));
    expect(got).toEqual([
      [4, Buffer.from('first').toString('hex')],
      [6, ''],
      [9, Buffer.alloc(70_000, 7).toString('hex')],
    ]);
  });

  it('a flipped bit anywhere in a message is refused', () => {
    const message = encodeMessage(4, Buffer.from('a log frame'));
    for (let at = 4; at < message.length; at++) {
      const bad = Buffer.from(message);
      bad[at]! ^= 0x10;
      const reader = new MessageReader(() => {
        throw new Error(`accepted a message corrupted at byte ${at}`);
      });
      expect(() => reader.push(bad), `byte ${at}`).toThrow(WireError);
    }
  });

  it('an absurd length is refused before anything is buffered', () => {
    const reader = new MessageReader(() => {});
    expect(() => reader.push(Buffer.from([0xff, 0xff, 0xff, 0x7f]))).toThrow(/a message of 2147483647 bytes/);
  });
});

describe('log frames from a stream', () => {
  it('split into the header, each chunk with its record count, and the trailer, from any pieces', () => {
    const dir = tempDir();
    dirs.push(dir);
    const bytes = writeLog(join(dir, 'a.rrlog'), { maxChunkBytes: 128 });
    const log = readLog(bytes);
    const frames: LogFrame[] = [];
    const splitter = new LogFrameSplitter((f) => frames.push(f));
    for (let i = 0; i < bytes.length; i += 5) splitter.push(bytes.subarray(i, i + 5));
    expect(splitter.leftover).toBe(0);
    expect(frames[0]!.kind).toBe('header');
    expect(frames.at(-1)!.kind).toBe('trailer');
    expect(frames.filter((f) => f.kind === 'chunk').length).toBe(log.chunks.length);
    expect(frames.reduce((n, f) => n + f.records, 0)).toBe(log.records.length);
    expect(Buffer.concat(frames.map((f) => f.bytes)).equals(bytes)).toBe(true);
  });

  it('a stream that is not a log is an error, not a guess', () => {
    const splitter = new LogFrameSplitter(() => {});
    splitter.push(Buffer.concat([Buffer.from('RRKITLOG'), Buffer.from([2, 0, 0, 0, 0, 0, 0, 0]), Buffer.alloc(4)]));
    expect(() => splitter.push(Buffer.from('JUNKJUNK'))).toThrow(/no frame here/);
  });
});

describe('the log spool', () => {
  const spoolDirs = (): string[] => readdirSync(tmpdir()).filter((name) => name.startsWith('rrkit-log-spool-'));

  it('gives back every frame, from memory or from its file once released, and holds only the unreleased in memory', () => {
    const dir = tempDir();
    dirs.push(dir);
    const bytes = writeLog(join(dir, 'a.rrlog'), { maxChunkBytes: 128 });
    const frames: LogFrame[] = [];
    new LogFrameSplitter((f) => frames.push(f)).push(bytes);
    expect(frames.length).toBeGreaterThan(4);
    const before = spoolDirs();
    const spool = new FrameSpool();
    try {
      expect(spoolDirs()).toEqual(before); // its file is already deleted: nothing outlives the process
      frames.forEach((f) => spool.append(f));
      expect(spool.length).toBe(frames.length);
      expect(spool.lastKind).toBe('trailer');
      expect(spool.memoryBytes).toEqual({ now: bytes.length, peak: bytes.length });
      spool.release(3);
      const kept = frames.slice(3).reduce((n, f) => n + f.bytes.length, 0);
      expect(spool.memoryBytes).toEqual({ now: kept, peak: bytes.length });
      spool.release(2); // releasing is for good: an earlier bound changes nothing
      expect(spool.memoryBytes.now).toBe(kept);
      frames.forEach((f, i) => {
        const got = spool.at(i);
        expect(got.bytes.equals(f.bytes), `frame ${i}`).toBe(true);
        expect([got.kind, got.records]).toEqual([f.kind, f.records]);
        expect(spool.describe(i)).toEqual({ kind: f.kind, records: f.records, length: f.bytes.length });
      });
      spool.release(frames.length);
      expect(spool.memoryBytes.now).toBe(0);
      expect(Buffer.concat(frames.map((_, i) => spool.at(i).bytes)).equals(bytes)).toBe(true);
      expect(() => spool.at(frames.length)).toThrow(/log frame \d+ is not in the spool \(\d+ frames\)/);
    } finally {
      spool.close();
    }
    expect(() => spool.append(frames[0]!)).toThrow(/closed/);
    expect(() => spool.at(0)).toThrow(/closed/);
  });
});

describe('tagged console output', () => {
  it('gives each flush its offset in the whole output and its log position', () => {
    const frame = (position: bigint, text: string): Buffer => {
      const head = Buffer.alloc(12);
      head.writeBigUInt64LE(position, 0);
      head.writeUInt32LE(text.length, 8);
      return Buffer.concat([head, Buffer.from(text)]);
    };
    const got: TaggedOutput[] = [];
    const reader = new TaggedOutputReader((o) => got.push(o));
    const all = Buffer.concat([frame(3n, 'line 1\n'), frame(3n, 'line 2\n'), frame(90n, 'line 3\n')]);
    for (const byte of all) reader.push(Buffer.from([byte]));
    expect(got.map((o) => [o.offset, o.position, o.bytes.toString()])).toEqual([
      [0, 3n, 'line 1\n'],
      [7, 3n, 'line 2\n'],
      [14, 90n, 'line 3\n'],
    ]);
  });
});

describe('the lock-file lease', () => {
  const TTL = 200;
  const age = (dir: string, epoch: number, ms: number): void => {
    const t = (Date.now() - ms) / 1000;
    utimesSync(join(dir, `lease.${epoch}`), t, t);
  };

  it('a held lease cannot be taken over; a lapsed one by exactly one member', () => {
    const dir = scratch();
    const primary = LockFileLease.acquireFirst(dir, TTL, { holder: 'p', members: ['b1', 'b2'] });
    expect(primary.epoch).toBe(0);
    expect(tryTakeOver(dir, 'b1', TTL).kind).toBe('held');
    age(dir, 0, 2 * TTL);
    const first = tryTakeOver(dir, 'b1', TTL);
    const second = tryTakeOver(dir, 'b2', TTL);
    expect(first.kind).toBe('won');
    expect(second).toEqual({ kind: 'held' }); // b2 now waits on epoch 1, which b1 holds
    if (first.kind !== 'won') return;
    expect(first.lease.epoch).toBe(1);
    expect(readLease(dir, 1)).toEqual({ holder: 'b1', members: ['b2'] });
    // The old primary's next renewal finds its successor: it must release nothing more.
    expect(primary.renewNow()).toBe(false);
    expect(primary.mayRelease()).toBe(false);
    expect(primary.lost).toMatch(/replica b1 took over \(epoch 1\)/);
  });

  it('a replica the primary dropped from the members cannot take over', () => {
    const dir = scratch();
    const primary = LockFileLease.acquireFirst(dir, TTL, { holder: 'p', members: ['b1', 'b2'] });
    expect(primary.setMembersNow(['b2'])).toBe(true);
    age(dir, 0, 2 * TTL);
    expect(tryTakeOver(dir, 'b1', TTL)).toEqual({ kind: 'lost', reason: 'not a member of epoch 0 (the primary dropped us)' });
    expect(tryTakeOver(dir, 'b2', TTL).kind).toBe('won');
  });

  it('a first lease over a live one is refused in one line', () => {
    const dir = scratch();
    LockFileLease.acquireFirst(dir, TTL, { holder: 'p', members: [] });
    expect(() => LockFileLease.acquireFirst(dir, TTL, { holder: 'q', members: [] })).toThrow(/the lease in .* is held \(epoch 0\); is another primary running\?/);
  });

  it('a lease is good for its time only: a holder that cannot renew stops releasing', async () => {
    const dir = scratch();
    const lease = LockFileLease.acquireFirst(dir, 50, { holder: 'p', members: [] });
    expect(lease.mayRelease()).toBe(true);
    await new Promise((r) => setTimeout(r, 80));
    expect(lease.mayRelease()).toBe(false);
    expect(lease.renewNow()).toBe(true);
    expect(lease.mayRelease()).toBe(true);
  });
});
