/**
 * SMP replay on the kvm engine streams its log (docs/kvm-smp.md, "Replay"): the records are
 * dealt to the vCPUs as chunks are read, each vCPU reading one landmark ahead of itself, so
 * `replay --follow` replays a log while the recording still writes it — from its first
 * chunks, not from its end — to the recording's console output, exit code, final landmarks
 * and state hash, on 2 and 4 vCPUs. A log cut short replays to where it stops vouching (also
 * when the cut falls inside a stop, between its edges and its fault record); a damaged chunk
 * is reported as that chunk's damage when the replay reaches it. Needs a working /dev/kvm
 * (never skips; machines without one run it inside QEMU, test/kvm-sandbox).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { LogFormatError } from '../../src/analysis/log-error.js';
import { readLogFile, scanLogFile } from '../../src/analysis/log-reader.js';
import type { LogRecord } from '../../src/analysis/log-records.js';
import { kvmAvailability } from '../../src/engines/kvm.js';
import { builtGuestPath } from '../../src/guests/catalog.js';
import { native } from '../../src/native.js';
import { record } from '../../src/session/record.js';
import { replay, type ReplayOutcome } from '../../src/session/replay.js';
import { logFolder } from '../kept-logs.js';
import { edgeIntoLaterStop, lastLandmarks } from '../last-landmarks.js';

/** Hang guards only: in the QEMU sandbox on a loaded host these take minutes. */
const HANG_MS = 400_000;
type Transfer = Extract<LogRecord, { type: 'crew-transfer' }>;

beforeAll(() => {
  const kvm = kvmAvailability();
  expect(kvm.available, kvm.reason).toBe(true);
});

function describeOutcome(outcome: ReplayOutcome): string {
  return outcome.kind === 'diverged' ? JSON.stringify(outcome.report, (_k, v) => (typeof v === 'bigint' ? `${v}` : v)) : outcome.kind;
}

/** A log holding `records` and no trailer, in small chunks: a recorder that died after sealing them. */
function writeCut(path: string, from: string, records: readonly LogRecord[]): void {
  const { header } = readLogFile(from);
  native().logWrite(path, { header, records: [...records], close: false, maxChunkBytes: 4096 });
}

describe.each([2, 4])('kvm SMP replay --follow on %i vCPUs', (vcpus) => {
  test('replays clock-poll while it is being recorded, from its first chunks, to the recording\'s output, exit code and state', async () => {
    const dir = logFolder(`kvm-smp-follow-${vcpus}`);
    const log = join(dir, 'clock.rrlog');
    let recordEnded = false;
    let replayedBeforeRecordEnded = 0n;
    // The follower starts first: it waits for the file, then reads each sealed chunk.
    const following = replay({
      logPath: log,
      follow: { idleSeconds: 60 },
      capture: true,
      timeoutSeconds: 300,
      progressIntervalMs: 20,
      onProgress: (sample) => {
        if (!recordEnded) replayedBeforeRecordEnded = sample.landmarks;
      },
    });
    const recorded = await record({ elf: builtGuestPath('clock-poll', 'x86_64'), logPath: log, vcpus, capture: true, timeoutSeconds: 300 });
    recordEnded = true;
    const followed = await following;
    expect(recorded.outcome).toBe('exited');
    expect(followed.kind, describeOutcome(followed)).toBe('exited');
    if (followed.kind !== 'exited') throw new Error('unreachable');
    expect(followed.result.console.toString()).toBe(recorded.console.toString());
    expect(followed.result.console.toString()).toMatch(/^clock-poll: ok lines=400 backwards=0$/m);
    expect(followed.exitCode).toBe(recorded.exitCode);
    expect(followed.result.stateHash).toBe(recorded.stateHash);
    expect(followed.result.vcpus.map((v) => v.landmark)).toEqual(recorded.vcpus.map((v) => v.landmark));
    // Streamed: the replay was running before the recording ended (reading the whole log
    // first, it could not have started).
    expect(replayedBeforeRecordEnded).toBeGreaterThan(0n);
    expect(scanLogFile(log, () => {}).chunks.length).toBeGreaterThan(1);
  }, HANG_MS);
});

describe('a kvm SMP log cut short or damaged', () => {
  test('cut short anywhere, inside a stop too: replays to each vCPU\'s last landmark in it and stops there', async () => {
    const dir = logFolder('kvm-smp-cut');
    const log = join(dir, 'lock.rrlog');
    const recorded = await record({ elf: builtGuestPath('lock-counter', 'x86_64', true), logPath: log, vcpus: 2, capture: true, timeoutSeconds: 120 });
    expect(recorded.outcome).toBe('exited');
    const { records } = readLogFile(log);
    // Inside a stop: after an edge into it, before its fault record (logged once the page came).
    const inside = edgeIntoLaterStop(records, 1 / 3);
    expect(inside).toBeGreaterThan(0);
    for (const end of [inside + 1, Math.floor(records.length / 2), records.length - 2]) {
      const cut = join(dir, `cut-${end}.rrlog`);
      const kept = records.slice(0, end);
      writeCut(cut, log, kept);
      const outcome = await replay({ logPath: cut, capture: true, timeoutSeconds: 120 });
      expect(outcome.kind, `${end} of ${records.length} records: ${describeOutcome(outcome)}`).toBe('incomplete');
      if (outcome.kind !== 'incomplete') throw new Error('unreachable');
      expect(outcome.reached).toEqual(lastLandmarks(kept, 2, 'exits'));
      // The edge into the cut stop names the landmark where its vCPU stops.
      if (end === inside + 1) expect(outcome.reached[(records[inside] as Transfer).to.vcpu]).toBe((records[inside] as Transfer).to.count);
    }
  }, HANG_MS);

  test('a chunk damaged in the middle: the replay reports that chunk\'s damage where it reads it, never a hang', async () => {
    const dir = logFolder('kvm-smp-damaged-chunk');
    const log = join(dir, 'radix.rrlog');
    const recorded = await record({ elf: builtGuestPath('radix-sort', 'x86_64', true), logPath: log, vcpus: 4, capture: true, timeoutSeconds: 120 });
    expect(recorded.outcome).toBe('exited');
    // Rewritten in small chunks, so that there is a middle one.
    const small = join(dir, 'small.rrlog');
    const { header, records } = readLogFile(log);
    native().logWrite(small, { header, records: [...records], close: true, maxChunkBytes: 1024 });
    const { chunks } = scanLogFile(small, () => {});
    expect(chunks.length).toBeGreaterThan(4);
    const victim = Math.floor(chunks.length / 2);
    const bytes = readFileSync(small);
    bytes[chunks[victim]!.offset + 28 + Math.floor(chunks[victim]!.storedBytes / 2)]! ^= 0x5a;
    const damaged = join(dir, 'damaged.rrlog');
    writeFileSync(damaged, bytes);
    const error = await replay({ logPath: damaged, capture: true, timeoutSeconds: 120 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(LogFormatError);
    expect((error as LogFormatError).code).toBe('bad-crc');
    expect((error as LogFormatError).chunk).toBe(victim);
  }, HANG_MS);
});
