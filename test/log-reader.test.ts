import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { crc32c } from '../src/analysis/crc32c.js';
import { toJsonSafe } from '../src/analysis/log-dump.js';
import { HEADER_CHUNK, LogFormatError, TRAILER_CHUNK } from '../src/analysis/log-error.js';
import { ChunkDecoder, type LogRecord } from '../src/analysis/log-records.js';
import { LOG_FORMAT_VERSION, readLog, readLogFile, scanLog } from '../src/analysis/log-reader.js';
import { logFileStats } from '../src/analysis/log-stats.js';
import { native, repoRoot } from '../src/native.js';
import { sampleRecords, tempDir, writeLog } from './log-fixtures.js';

const dir = tempDir();
const good = writeLog(join(dir, 'good.rrlog'));

function chunkStarts(bytes: Buffer): number[] {
  const starts: number[] = [];
  let at = 16 + bytes.readUInt32LE(12) + 4;
  while (at + 4 <= bytes.length && bytes.readUInt32LE(at) === 0x4b4e4843) {
    starts.push(at);
    at += 28 + bytes.readUInt32LE(at + 8);
  }
  return starts;
}

function errorOf(body: () => unknown): LogFormatError {
  try {
    body();
  } catch (error) {
    if (error instanceof LogFormatError) return error;
    throw error;
  }
  throw new Error('expected a LogFormatError, nothing was thrown');
}

describe('log reader (TypeScript)', () => {
  it('computes the standard CRC32C check value', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
  });

  it('reads what the C++ writer wrote, exactly as the C++ reader does', () => {
    const log = readLog(good);
    expect(log.complete).toBe(true);
    expect(log.chunks.length).toBeGreaterThan(3);
    expect(log.header).toMatchObject({ engine: 'emu', vcpus: 2, ramMib: 128, imageHash: 'ab'.repeat(32) });
    const cpp = native().logRead(good);
    expect(toJsonSafe(log.records)).toEqual(toJsonSafe(cpp.records));
    expect(toJsonSafe(log.header)).toEqual(toJsonSafe(cpp.header));
    expect(cpp.chunks).toBe(log.chunks.length);
    // And both match what was written.
    expect(toJsonSafe(log.records)).toEqual(toJsonSafe(sampleRecords()));
  });

  it('reads a log without a trailer as incomplete, with every sealed record', () => {
    const log = readLog(writeLog(join(dir, 'open.rrlog'), { close: false }));
    expect(log.complete).toBe(false);
    expect(log.records.length).toBe(sampleRecords().length);
    expect(native().logRead(writeLog(join(dir, 'open2.rrlog'), { close: false })).complete).toBe(false);
  });

  it('names the problem, the chunk and the byte offset for bad input', () => {
    const starts = chunkStarts(good);
    expect(errorOf(() => readLog(Buffer.alloc(0)))).toMatchObject({ code: 'empty', chunk: HEADER_CHUNK });
    expect(errorOf(() => readLogFile(join(dir, 'missing.rrlog')))).toMatchObject({ code: 'io' });
    expect(errorOf(() => readLog(Buffer.from('\x7fELF and then some more bytes')))).toMatchObject({ code: 'bad-magic', offset: 0 });
    const version = Buffer.from(good);
    version.writeUInt16LE(LOG_FORMAT_VERSION + 1, 8);
    expect(errorOf(() => readLog(version))).toMatchObject({ code: 'bad-version', chunk: HEADER_CHUNK, offset: 8 });
    // Version 1 and 2 logs (before deflated two-stream chunks) are refused, saying so, by both readers.
    for (const old of [1, 2]) {
      version.writeUInt16LE(old, 8);
      expect(errorOf(() => readLog(version)).message).toMatch(
        new RegExp(`^bad-version in the header at byte 8: format version ${old}, this reader knows 3 \\(.*record it again\\)$`),
      );
      expect(() => native().logRead(version)).toThrow(new RegExp(`format version ${old}, this reader knows 3`));
    }

    const flipped = Buffer.from(good);
    flipped[starts[2]! + 30]! ^= 0x04;
    const crc = errorOf(() => readLog(flipped));
    expect(crc).toMatchObject({ code: 'bad-crc', chunk: 2, offset: starts[2]! + 24 });
    expect(crc.message).toMatch(/^bad-crc in chunk 2 at byte \d+: chunk CRC32C stored 0x[0-9a-f]+, computed 0x[0-9a-f]+$/);

    expect(errorOf(() => readLog(good.subarray(0, starts[3]! + 30)))).toMatchObject({ code: 'truncated', chunk: 3 });
    expect(errorOf(() => readLog(good.subarray(0, good.length - 1)))).toMatchObject({ code: 'truncated', chunk: TRAILER_CHUNK });
    const cut = readLog(good.subarray(0, starts[3]!));
    expect([cut.complete, cut.chunks.length]).toEqual([false, 3]);

    const swapped = Buffer.concat([
      good.subarray(0, starts[0]!),
      good.subarray(starts[1]!, starts[2]!),
      good.subarray(starts[0]!, starts[1]!),
      good.subarray(starts[2]!),
    ]);
    expect(errorOf(() => readLog(swapped))).toMatchObject({ code: 'bad-sequence', chunk: 0, offset: starts[0]! + 4 });
    expect(errorOf(() => readLog(Buffer.concat([good, Buffer.from([0])])))).toMatchObject({ code: 'trailing-data' });
  });

  it('scans the same records, sizes and outline as it reads', () => {
    const records: LogRecord[] = [];
    const sizes: number[] = [];
    const outline = scanLog(good, (record, encodedBytes) => {
      records.push(record);
      sizes.push(encodedBytes);
    });
    const { records: read, recordBytes, ...rest } = readLog(good);
    expect(toJsonSafe(records)).toEqual(toJsonSafe(read));
    expect(sizes).toEqual(recordBytes);
    expect(outline).toEqual(rest);
  });

  it('visits no record of a chunk that turns out bad', () => {
    const starts = chunkStarts(good);
    const log = readLog(good);
    const firstChunk = log.records.slice(0, log.chunks[0]!.records);
    expect(firstChunk.length).toBeGreaterThan(0);
    // A payload byte flipped: the CRC fails. A record count off by one under a good CRC:
    // the chunk decodes, and only the count shows it is bad.
    const badCrc = Buffer.from(good);
    badCrc[starts[1]! + 30]! ^= 0x04;
    const badCount = Buffer.from(good);
    badCount.writeUInt32LE(badCount.readUInt32LE(starts[1]! + 12) + 1, starts[1]! + 12);
    const stored = badCount.subarray(starts[1]! + 28, starts[2]!);
    badCount.writeUInt32LE(crc32c(stored, crc32c(badCount.subarray(starts[1]!, starts[1]! + 24))), starts[1]! + 24);
    for (const [bad, expected] of [
      [badCrc, { code: 'bad-crc', chunk: 1, offset: starts[1]! + 24 }],
      [badCount, { code: 'bad-record', chunk: 1, offset: starts[1]! + 12 }],
    ] as const) {
      const visited: LogRecord[] = [];
      expect(errorOf(() => scanLog(bad, (record) => visited.push(record)))).toMatchObject(expected);
      expect(toJsonSafe(visited)).toEqual(toJsonSafe(firstChunk));
    }
  });

  // Kind 21 (docs/log-format.md): a turn switch like its vCPU's previous one in the chunk, by
  // the vCPU the previous switch handed the turn to, is its kind byte alone.
  it('reads a round robin of equal turns, a byte per turn, as its turn switches; a repeat with nothing to repeat is a bad record', () => {
    const records: object[] = [];
    const counts = [1_000n, 2_000n];
    for (let i = 0; i < 3_000; i++) {
      const vcpu = i % 2;
      counts[vcpu]! += i === 1_500 ? 31n : 27n; // one turn longer: written whole, and the next one too
      records.push({ type: 'turn-switch', vcpu, count: counts[vcpu]!, next: 1 - vcpu });
    }
    const bytes = writeLog(join(dir, 'turns.rrlog'), { records, maxChunkBytes: 64 * 1024 });
    const log = readLog(bytes);
    expect(toJsonSafe(log.records)).toEqual(toJsonSafe(records));
    expect(toJsonSafe(native().logRead(bytes).records)).toEqual(toJsonSafe(records));
    expect(log.chunks).toHaveLength(1);
    expect(log.chunks[0]!.payloadBytes).toBeLessThan(3_000 + 40);
    // A payload (events only) of kind 21 alone, then kind 12 (vcpu 1, delta +5, next 0) and
    // kind 21 for vCPU 0, which has had no turn switch in the chunk.
    for (const events of [[21], [12, 1, 10, 0, 21]]) {
      const decoder = new ChunkDecoder(Uint8Array.from([events.length, ...events]), 100, 3, 2);
      const error = errorOf(() => {
        while (decoder.next() !== undefined);
      });
      expect(error).toMatchObject({ code: 'bad-record', chunk: 3, offset: 100 + events.length });
      expect(error.message).toMatch(/repeated turn switch .*no turn switch/);
    }
  });

  it('counts events, bytes and CREW transfers', () => {
    const stats = logFileStats(join(dir, 'good.rrlog'));
    expect(stats.complete).toBe(true);
    expect(stats.byType.interrupt?.events).toBe(80);
    expect(stats.byType['crew-transfer']?.events).toBe(40);
    expect(stats.byType.checkpoint?.events).toBe(4);
    // Every decoded payload byte belongs to a record, but for each chunk's one-varint event length.
    const recordBytes = Object.values(stats.byType).reduce((sum, t) => sum + t.bytes, 0);
    const { chunks } = readLog(good);
    const payload = chunks.reduce((sum, c) => sum + c.payloadBytes, 0);
    expect(payload - recordBytes).toBeGreaterThanOrEqual(chunks.length);
    expect(payload - recordBytes).toBeLessThanOrEqual(2 * chunks.length);
    expect(stats.landmarks).toBe(String(4_199_000 + 4_200_000));
    expect(stats.exitCode).toBe('-3');
    expect(stats.crew?.byPair).toEqual({ '1->0': 20, '0->1': 20 });
    expect(stats.crew?.hottestPages[0]?.transfers).toBe(14);
    expect(stats.bytesPerMillion).toBeCloseTo(good.length / 8.399, 1);
  });
});

describe('rrkit log', () => {
  const rrkit = join(repoRoot, 'bin', 'rrkit');
  const run = (...args: string[]) => spawnSync(rrkit, args, { encoding: 'utf8' });

  it('prints stats as text and JSON', () => {
    const path = join(dir, 'cli.rrlog');
    writeFileSync(path, good);
    const text = run('log', 'stats', path);
    expect(text.status).toBe(0);
    expect(text.stdout).toMatch(/status\s+complete/);
    expect(text.stdout).toMatch(/CREW transfers\s+40/);
    const json = JSON.parse(run('log', 'stats', path, '--json').stdout);
    expect(json.byType.interrupt.events).toBe(80);
  });

  it('dumps one line per record', () => {
    const path = join(dir, 'cli.rrlog');
    const dump = run('log', 'dump', path);
    expect(dump.status).toBe(0);
    const lines = dump.stdout.trim().split('\n').filter((l) => !l.startsWith('#'));
    expect(lines.length).toBe(sampleRecords().length);
    expect(lines).toContain('crew-transfer page 0x80043: vcpu 1 @ 100060 -> vcpu 0 @ 100070');
    expect(JSON.parse(run('log', 'dump', path, '--json').stdout).records.length).toBe(sampleRecords().length);
  });

  it('reports a damaged log in one line, exit status 120 (a damaged log, as verify), from stats and dump', () => {
    const path = join(dir, 'bad.rrlog');
    const bad = Buffer.from(good);
    bad[bad.length - 40]! ^= 0xff;
    writeFileSync(path, bad);
    for (const command of ['stats', 'dump']) {
      const result = run('log', command, path);
      expect(result.status).toBe(120);
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
      expect(result.stderr).toMatch(/^rrkit: bad-crc in chunk \d+ at byte \d+/);
    }
  });
});
