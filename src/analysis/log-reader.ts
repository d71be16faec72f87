/**
 * Reads an rrkit log from a Buffer, validating everything exactly as the C++ reader does
 * (native/replay/log_reader.cc): header, each chunk's CRC32C and sequence number, every
 * record, the trailer. Problems throw LogFormatError with the chunk and byte offset. A log
 * without a trailer that ends on a chunk boundary is `incomplete`: every record is returned
 * and `complete` is false. scanLog hands records to a visitor chunk by chunk, so that a log
 * of millions of records can be summarised without holding them; readLog keeps them all.
 */
import { readFileSync } from 'node:fs';
import { ByteReader } from './byte-reader.js';
import { crc32c } from './crc32c.js';
import { HEADER_CHUNK, LogFormatError, TRAILER_CHUNK } from './log-error.js';
import { ChunkDecoder, type LogRecord } from './log-records.js';

export const LOG_MAGIC = Buffer.from('RRKITLOG', 'latin1');
export const LOG_FORMAT_VERSION = 3;
const HEADER_FIXED_BYTES = 16;
const MAX_HEADER_BODY_BYTES = 1 << 20;
const MAX_IMAGE_HASH_BYTES = 64;
const MAX_VCPUS = 4096;
const CHUNK_MAGIC = 0x4b4e4843; // "CHNK"
const TRAILER_MAGIC = 0x524c5254; // "TRLR"
const CHUNK_HEADER_BYTES = 20;
const MAX_CHUNK_PAYLOAD_BYTES = 16 << 20;
const TRAILER_BYTES = 28;

export interface LogHeader {
  engine: string;
  /** Hex. */
  imageHash: string;
  imagePath: string;
  vcpus: number;
  ramMib: number;
  crewGranularity: number;
  checkpointInterval: bigint;
  startUnixMs: bigint;
  configJson: string;
}

export interface LogTrailer {
  chunkCount: number;
  recordCount: bigint;
  elapsedNs: bigint;
}

/** Where each chunk sits, and its records' total encoded size (for statistics). */
export interface ChunkInfo {
  offset: number;
  payloadBytes: number;
  records: number;
}

/** Everything about a log but its records. */
export interface LogOutline {
  header: LogHeader;
  chunks: ChunkInfo[];
  complete: boolean;
  trailer: LogTrailer | undefined;
  bytes: number;
}

export interface LogContents extends LogOutline {
  records: LogRecord[];
  /** Encoded size of each record, parallel to `records`. */
  recordBytes: number[];
}

/** Called for each record of a validated chunk, in log order, with its encoded size. */
export type RecordVisitor = (record: LogRecord, encodedBytes: number) => void;

const hex = (n: number | bigint): string => `0x${n.toString(16)}`;

function readHeader(bytes: Buffer): { header: LogHeader; end: number } {
  const fail = (code: 'empty' | 'bad-magic' | 'truncated' | 'bad-version' | 'bad-header' | 'bad-crc', at: number, detail: string): never => {
    throw new LogFormatError(code, HEADER_CHUNK, at, detail);
  };
  if (bytes.length === 0) fail('empty', 0, 'the log is empty');
  const magicBytes = Math.min(bytes.length, LOG_MAGIC.length);
  if (!bytes.subarray(0, magicBytes).equals(LOG_MAGIC.subarray(0, magicBytes))) {
    fail('bad-magic', 0, 'not an rrkit log (no RRKITLOG magic)');
  }
  if (bytes.length < HEADER_FIXED_BYTES) fail('truncated', bytes.length, 'the file ends inside the header');
  const version = bytes.readUInt16LE(8);
  if (version !== LOG_FORMAT_VERSION) {
    fail('bad-version', 8, `format version ${version}, this reader knows ${LOG_FORMAT_VERSION}`);
  }
  if (bytes.readUInt16LE(10) !== 0) fail('bad-header', 10, 'unknown header flags');
  const bodyLength = bytes.readUInt32LE(12);
  if (bodyLength > MAX_HEADER_BODY_BYTES) fail('bad-header', 12, 'header body larger than 1 MiB');
  const crcAt = HEADER_FIXED_BYTES + bodyLength;
  if (bytes.length < crcAt + 4) fail('truncated', bytes.length, 'the file ends inside the header');
  const stored = bytes.readUInt32LE(crcAt);
  const computed = crc32c(bytes.subarray(0, crcAt));
  if (stored !== computed) fail('bad-crc', crcAt, `header CRC32C stored ${hex(stored)}, computed ${hex(computed)}`);

  const r = new ByteReader(bytes.subarray(HEADER_FIXED_BYTES, crcAt), HEADER_FIXED_BYTES, HEADER_CHUNK, 'bad-header');
  const engine = r.string(256, 'engine name');
  const imageHash = Buffer.from(r.blob(MAX_IMAGE_HASH_BYTES, 'image hash')).toString('hex');
  const imagePath = r.string(MAX_HEADER_BODY_BYTES, 'image path');
  const vcpusAt = r.position;
  const vcpus = r.varint();
  if (vcpus === 0n || vcpus > BigInt(MAX_VCPUS)) r.fail(vcpusAt, 'vcpus out of range (1..4096)');
  const ramAt = r.position;
  const ramMib = r.varint();
  if (ramMib > 0xffffffffn) r.fail(ramAt, 'RAM size out of range');
  const granularityAt = r.position;
  const crewGranularity = r.varint();
  if (crewGranularity > 0xffffffffn) r.fail(granularityAt, 'CREW granularity out of range');
  const checkpointInterval = r.varint();
  const startUnixMs = r.varint();
  const configJson = r.string(MAX_HEADER_BODY_BYTES, 'config JSON');
  if (!r.done) r.fail(r.position, 'unexpected bytes after the header fields');
  return {
    header: {
      engine,
      imageHash,
      imagePath,
      vcpus: Number(vcpus),
      ramMib: Number(ramMib),
      crewGranularity: Number(crewGranularity),
      checkpointInterval,
      startUnixMs,
      configJson,
    },
    end: crcAt + 4,
  };
}

/**
 * Parses and validates a whole log, visiting each chunk's records once the whole chunk has
 * validated (a bad chunk throws before any of its records is visited); throws LogFormatError.
 */
export function scanLog(bytes: Buffer, visit: RecordVisitor): LogOutline {
  const { header, end } = readHeader(bytes);
  const outline: LogOutline = { header, chunks: [], complete: false, trailer: undefined, bytes: bytes.length };
  let offset = end;
  let recordTotal = 0n;
  for (;;) {
    const index = outline.chunks.length;
    const remaining = bytes.length - offset;
    if (remaining === 0) return outline; // no trailer: incomplete
    if (remaining < 4) throw new LogFormatError('truncated', index, bytes.length, 'the file ends inside a frame');
    const magic = bytes.readUInt32LE(offset);
    if (magic === TRAILER_MAGIC) {
      outline.trailer = readTrailer(bytes, offset, index, recordTotal);
      outline.complete = true;
      return outline;
    }
    if (magic !== CHUNK_MAGIC) {
      throw new LogFormatError('bad-frame', index, offset, `expected a chunk or the trailer, found ${hex(magic)}`);
    }
    const chunk = readChunk(bytes, offset, index, header.vcpus, visit);
    outline.chunks.push(chunk);
    recordTotal += BigInt(chunk.records);
    offset = chunk.offset + CHUNK_HEADER_BYTES + chunk.payloadBytes;
  }
}

/** Parses and validates a whole log, keeping every record; throws LogFormatError. */
export function readLog(bytes: Buffer): LogContents {
  const records: LogRecord[] = [];
  const recordBytes: number[] = [];
  const outline = scanLog(bytes, (record, encodedBytes) => {
    records.push(record);
    recordBytes.push(encodedBytes);
  });
  return { ...outline, records, recordBytes };
}

/** Reads and validates one chunk, then visits its records. */
function readChunk(bytes: Buffer, start: number, index: number, vcpus: number, visit: RecordVisitor): ChunkInfo {
  const remaining = bytes.length - start;
  if (remaining < CHUNK_HEADER_BYTES) {
    throw new LogFormatError('truncated', index, bytes.length, 'the file ends inside a chunk header');
  }
  const sequence = bytes.readUInt32LE(start + 4);
  const payloadLength = bytes.readUInt32LE(start + 8);
  const recordCount = bytes.readUInt32LE(start + 12);
  const stored = bytes.readUInt32LE(start + 16);
  if (payloadLength > MAX_CHUNK_PAYLOAD_BYTES) {
    throw new LogFormatError('bad-frame', index, start + 8, `payload length ${payloadLength} exceeds 16 MiB`);
  }
  if (remaining < CHUNK_HEADER_BYTES + payloadLength) {
    throw new LogFormatError(
      'truncated',
      index,
      bytes.length,
      `the file ends inside the chunk's payload (${payloadLength} bytes from byte ${start + CHUNK_HEADER_BYTES})`,
    );
  }
  const payloadAt = start + CHUNK_HEADER_BYTES;
  const payload = bytes.subarray(payloadAt, payloadAt + payloadLength);
  const computed = crc32c(payload, crc32c(bytes.subarray(start, start + 16)));
  if (stored !== computed) {
    throw new LogFormatError('bad-crc', index, start + 16, `chunk CRC32C stored ${hex(stored)}, computed ${hex(computed)}`);
  }
  if (sequence !== index) {
    throw new LogFormatError('bad-sequence', index, start + 4, `chunk has sequence number ${sequence}, expected ${index}`);
  }
  const decoder = new ChunkDecoder(payload, payloadAt, index, vcpus);
  const records: LogRecord[] = [];
  const sizes: number[] = [];
  let before = 0;
  for (let record = decoder.next(); record !== undefined; record = decoder.next()) {
    records.push(record);
    sizes.push(decoder.position - before);
    before = decoder.position;
  }
  if (records.length !== recordCount) {
    throw new LogFormatError(
      'bad-record',
      index,
      start + 12,
      `chunk declares ${recordCount} records, its payload holds ${records.length}`,
    );
  }
  records.forEach((record, i) => visit(record, sizes[i]!));
  return { offset: start, payloadBytes: payloadLength, records: recordCount };
}

function readTrailer(bytes: Buffer, start: number, chunkCount: number, recordTotal: bigint): LogTrailer {
  const fail = (code: 'truncated' | 'bad-trailer' | 'trailing-data', at: number, detail: string): never => {
    throw new LogFormatError(code, TRAILER_CHUNK, at, detail);
  };
  if (bytes.length - start < TRAILER_BYTES) fail('truncated', bytes.length, 'the file ends inside the trailer');
  const stored = bytes.readUInt32LE(start + 24);
  const computed = crc32c(bytes.subarray(start, start + 24));
  if (stored !== computed) fail('bad-trailer', start + 24, `trailer CRC32C stored ${hex(stored)}, computed ${hex(computed)}`);
  const trailer: LogTrailer = {
    chunkCount: bytes.readUInt32LE(start + 4),
    recordCount: bytes.readBigUInt64LE(start + 8),
    elapsedNs: bytes.readBigUInt64LE(start + 16),
  };
  if (trailer.chunkCount !== chunkCount) {
    fail('bad-trailer', start + 4, `trailer counts ${trailer.chunkCount} chunks, the log has ${chunkCount}`);
  }
  if (trailer.recordCount !== recordTotal) {
    fail('bad-trailer', start + 8, `trailer counts ${trailer.recordCount} records, the log has ${recordTotal}`);
  }
  if (bytes.length > start + TRAILER_BYTES) fail('trailing-data', start + TRAILER_BYTES, 'bytes after the trailer');
  return trailer;
}

function readBytes(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new LogFormatError('io', HEADER_CHUNK, 0, `cannot read ${path}: ${reason}`);
  }
}

/** Reads a log file; a missing or unreadable file is LogFormatError('io'). */
export function readLogFile(path: string): LogContents {
  return readLog(readBytes(path));
}

/** Scans a log file (see scanLog); a missing or unreadable file is LogFormatError('io'). */
export function scanLogFile(path: string, visit: RecordVisitor): LogOutline {
  return scanLog(readBytes(path), visit);
}

/**
 * Reads and validates only a log file's header (what a replay needs before it starts; the
 * engine's own reader validates every chunk as it loads the log).
 */
export function readLogHeaderFile(path: string): LogHeader {
  return readHeader(readBytes(path)).header;
}
