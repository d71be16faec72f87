/**
 * Mutates real logs thousands of times — byte flips, truncations, chunk swaps, duplicated
 * and dropped chunks, and chunks changed under a recomputed CRC (so that the codec and the
 * record decoders see the damage) — and requires both readers (TypeScript, and C++ through
 * the addon) to give either a valid parse or a typed error, and to agree on which, where
 * and what.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { crc32c } from '../src/analysis/crc32c.js';
import { toJsonSafe } from '../src/analysis/log-dump.js';
import { LogFormatError } from '../src/analysis/log-error.js';
import { readLog } from '../src/analysis/log-reader.js';
import { native } from '../src/native.js';
import { tempDir, writeLog } from './log-fixtures.js';

const ITERATIONS = 3000;

// A small deterministic PRNG so that a failure reproduces (xorshift32).
function rng(seed: number): (n: number) => number {
  let state = seed >>> 0 || 1;
  return (n) => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state % n;
  };
}

function chunks(bytes: Buffer): { start: number; end: number }[] {
  const out: { start: number; end: number }[] = [];
  let at = 16 + bytes.readUInt32LE(12) + 4;
  while (at + 28 <= bytes.length && bytes.readUInt32LE(at) === 0x4b4e4843) {
    const end = at + 28 + bytes.readUInt32LE(at + 8);
    out.push({ start: at, end });
    at = end;
  }
  return out;
}

function mutate(original: Buffer, random: (n: number) => number): { bytes: Buffer; how: string } {
  const bytes = Buffer.from(original);
  const parts = chunks(bytes);
  switch (random(8)) {
    case 0: {
      const flips = 1 + random(4);
      for (let i = 0; i < flips; i++) bytes[random(bytes.length)]! ^= 1 << random(8);
      return { bytes, how: `${flips} bit flips` };
    }
    case 1: {
      const at = random(bytes.length);
      bytes[at] = random(256);
      return { bytes, how: `byte ${at} replaced` };
    }
    case 2: {
      const length = random(bytes.length + 1);
      return { bytes: bytes.subarray(0, length), how: `truncated to ${length}` };
    }
    case 3: {
      const a = parts[random(parts.length)]!;
      const b = parts[random(parts.length)]!;
      const [first, second] = a.start < b.start ? [a, b] : [b, a];
      return {
        bytes: Buffer.concat([
          bytes.subarray(0, first.start),
          bytes.subarray(second.start, second.end),
          bytes.subarray(first.end, second.start),
          bytes.subarray(first.start, first.end),
          bytes.subarray(second.end),
        ]),
        how: `chunks at ${first.start} and ${second.start} swapped`,
      };
    }
    case 4: {
      const c = parts[random(parts.length)]!;
      return {
        bytes: Buffer.concat([bytes.subarray(0, c.end), bytes.subarray(c.start, c.end), bytes.subarray(c.end)]),
        how: `chunk at ${c.start} duplicated`,
      };
    }
    case 5: {
      const c = parts[random(parts.length)]!;
      return { bytes: Buffer.concat([bytes.subarray(0, c.start), bytes.subarray(c.end)]), how: `chunk at ${c.start} dropped` };
    }
    default: {
      // Bytes of a chunk (its header fields or stored bytes) changed, and its CRC made right.
      const c = parts[random(parts.length)]!;
      const changes = 1 + random(3);
      for (let i = 0; i < changes; i++) {
        const at = random(2) === 0 ? c.start + 8 + random(16) : c.start + 28 + random(c.end - c.start - 28);
        if (at < c.end) bytes[at] = random(256);
      }
      const storedEnd = Math.min(bytes.length, c.start + 28 + bytes.readUInt32LE(c.start + 8));
      bytes.writeUInt32LE(crc32c(bytes.subarray(c.start + 28, storedEnd), crc32c(bytes.subarray(c.start, c.start + 24))), c.start + 24);
      return { bytes, how: `${changes} bytes of the chunk at ${c.start} changed under a good CRC` };
    }
  }
}

type Outcome = { ok: unknown } | { code: string; chunk: number; offset: number };

function viaTypeScript(bytes: Buffer): Outcome {
  try {
    const log = readLog(bytes);
    return { ok: toJsonSafe({ header: log.header, records: log.records, complete: log.complete }) };
  } catch (error) {
    if (!(error instanceof LogFormatError)) throw error;
    expect(error.message).not.toContain('\n');
    return { code: error.code, chunk: error.chunk, offset: error.offset };
  }
}

function viaCpp(bytes: Buffer): Outcome {
  try {
    const log = native().logRead(bytes);
    return { ok: toJsonSafe({ header: log.header, records: log.records, complete: log.complete }) };
  } catch (error) {
    const e = error as Error & { code?: string; chunk?: number; offset?: number };
    if (typeof e.code !== 'string') throw error;
    expect(e.message).not.toContain('\n');
    return { code: e.code, chunk: e.chunk!, offset: e.offset! };
  }
}

describe('log readers under mutation', () => {
  const dir = tempDir();
  const logs = [
    writeLog(join(dir, 'complete.rrlog')),
    writeLog(join(dir, 'incomplete.rrlog'), { close: false }),
    writeLog(join(dir, 'big-chunks.rrlog'), { maxChunkBytes: 4096 }),
    writeLog(join(dir, 'stored.rrlog'), { deflateLevel: 0 }),
  ];

  it(`${ITERATIONS} mutations: a valid parse or the same typed error from both readers`, () => {
    const random = rng(20261128);
    const seen = new Map<string, number>();
    for (let i = 0; i < ITERATIONS; i++) {
      const { bytes, how } = mutate(logs[i % logs.length]!, random);
      const ts = viaTypeScript(bytes);
      const cpp = viaCpp(bytes);
      const label = 'ok' in ts ? 'ok' : ts.code;
      seen.set(label, (seen.get(label) ?? 0) + 1);
      expect(cpp, `iteration ${i}: ${how}`).toEqual(ts);
    }
    // The mutations exercise the detectors, not just one of them.
    for (const code of ['bad-crc', 'truncated', 'bad-sequence', 'bad-payload', 'bad-record', 'ok']) {
      expect(seen.get(code) ?? 0, code).toBeGreaterThan(0);
    }
  });
});
