/**
 * Reads an rrkit log from a Buffer, validating everything exactly as the C++ reader does
 * (native/replay/log_reader.cc): header, each chunk's CRC32C, sequence number and codec,
 * every record, the trailer. Problems throw LogFormatError with the chunk and byte offset.
 * A log without a trailer that ends on a chunk boundary is `incomplete`: every record is
 * returned and `complete` is false. scanLog hands records to a visitor chunk by chunk, so
 * that a log of millions of records can be summarised without holding them; readLog keeps
 * them all. scanLogFile reads the file a piece at a time.
 */
import { closeSync, readSync } from 'node:fs';
import { inflateRawSync } from 'node:zlib';
import { printable } from '../files/printable.js';
import { FileRefused, openRegularFile } from '../files/regular-file.js';
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
const CHUNK_HEADER_BYTES = 28;
const MAX_CHUNK_PAYLOAD_BYTES = 4 << 20;
const TRAILER_BYTES = 28;
/** native/replay/chunk_codec.h: 0 stored, 1 raw deflate (RFC 1951). */
const CODEC_STORED = 0;
const CODEC_DEFLATE = 1;

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

/** Where each chunk sits, its size in the file and decoded, and its records (for statistics). */
export interface ChunkInfo {
  offset: number;
  /** bytes after the chunk header in the file */
  storedBytes: number;
  /** the payload once decoded from its codec */
  payloadBytes: number;
  codec: number;
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

/** Called for each record of a validated chunk, in log order, with its size in the decoded payload. */
export type RecordVisitor = (record: LogRecord, encodedBytes: number) => void;

const hex = (n: number | bigint): string => `0x${n.toString(16)}`;

function readHeader(source: ByteSupplier): { header: LogHeader; end: number } {
  const fail = (code: 'empty' | 'bad-magic' | 'truncated' | 'bad-version' | 'bad-header' | 'bad-crc', at: number, detail: string): never => {
    throw new LogFormatError(code, HEADER_CHUNK, at, detail);
  };
  const fixed = source.read(0, HEADER_FIXED_BYTES);
  if (fixed.length === 0) fail('empty', 0, 'the log is empty');
  const magicBytes = Math.min(fixed.length, LOG_MAGIC.length);
  if (!fixed.subarray(0, magicBytes).equals(LOG_MAGIC.subarray(0, magicBytes))) {
    fail('bad-magic', 0, 'not an rrkit log (no RRKITLOG magic)');
  }
  if (fixed.length < HEADER_FIXED_BYTES) fail('truncated', fixed.length, 'the file ends inside the header');
  const version = fixed.readUInt16LE(8);
  if (version !== LOG_FORMAT_VERSION) {
    const old = version === 1 || version === 2 ? ' (rrkit before the compressed v3 format wrote it: record it again)' : '';
    fail('bad-version', 8, `format version ${version}, this reader knows ${LOG_FORMAT_VERSION}${old}`);
  }
  if (fixed.readUInt16LE(10) !== 0) fail('bad-header', 10, 'unknown header flags');
  const bodyLength = fixed.readUInt32LE(12);
  if (bodyLength > MAX_HEADER_BODY_BYTES) fail('bad-header', 12, 'header body larger than 1 MiB');
  const crcAt = HEADER_FIXED_BYTES + bodyLength;
  const bytes = Buffer.concat([fixed, source.read(HEADER_FIXED_BYTES, bodyLength + 4)]);
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
 * The bytes of a log as a reader asks for them: `read(at, length)` returns up to `length`
 * bytes from offset `at` (fewer only at the end), so that a file need not be held whole.
 */
interface ByteSupplier {
  read(at: number, length: number): Buffer;
}

function bufferSupplier(bytes: Buffer): ByteSupplier {
  return { read: (at, length) => bytes.subarray(at, Math.min(bytes.length, at + length)) };
}

/**
 * Parses and validates a whole log, visiting each chunk's records once the whole chunk has
 * validated (a bad chunk throws before any of its records is visited); throws LogFormatError.
 */
export function scanLog(bytes: Buffer, visit: RecordVisitor): LogOutline {
  return scanSupplied(bufferSupplier(bytes), visit);
}

function scanSupplied(source: ByteSupplier, visit: RecordVisitor): LogOutline {
  const { header, end } = readHeader(source);
  const outline: LogOutline = { header, chunks: [], complete: false, trailer: undefined, bytes: end };
  let offset = end;
  let recordTotal = 0n;
  for (;;) {
    const index = outline.chunks.length;
    const magicBytes = source.read(offset, 4);
    if (magicBytes.length === 0) {
      outline.bytes = offset;
      return outline; // no trailer: incomplete
    }
    if (magicBytes.length < 4) throw new LogFormatError('truncated', index, offset + magicBytes.length, 'the file ends inside a frame');
    const magic = magicBytes.readUInt32LE(0);
    if (magic === TRAILER_MAGIC) {
      outline.trailer = readTrailer(source, offset, index, recordTotal);
      outline.complete = true;
      outline.bytes = offset + TRAILER_BYTES;
      return outline;
    }
    if (magic !== CHUNK_MAGIC) {
      throw new LogFormatError('bad-frame', index, offset, `expected a chunk or the trailer, found ${hex(magic)}`);
    }
    const chunk = readChunk(source, offset, index, header.vcpus, visit);
    outline.chunks.push(chunk);
    recordTotal += BigInt(chunk.records);
    offset = chunk.offset + CHUNK_HEADER_BYTES + chunk.storedBytes;
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

/** A chunk's stored bytes decoded with its codec, or undefined unless they give exactly `length` bytes. */
function loadPayload(codec: number, stored: Buffer, length: number): Buffer | undefined {
  if (codec === CODEC_STORED) return stored.length === length ? stored : undefined;
  try {
    // One byte of room beyond the declared length, as in C++: a longer stream fails the check.
    const { buffer, engine } = inflateRawSync(stored, { info: true, maxOutputLength: length + 1 }) as unknown as {
      buffer: Buffer;
      engine: { bytesWritten: number };
    };
    return buffer.length === length && engine.bytesWritten === stored.length ? buffer : undefined;
  } catch {
    return undefined;
  }
}

/** Reads and validates one chunk, then visits its records. */
function readChunk(source: ByteSupplier, start: number, index: number, vcpus: number, visit: RecordVisitor): ChunkInfo {
  const head = source.read(start, CHUNK_HEADER_BYTES);
  if (head.length < CHUNK_HEADER_BYTES) {
    throw new LogFormatError('truncated', index, start + head.length, 'the file ends inside a chunk header');
  }
  const sequence = head.readUInt32LE(4);
  const storedLength = head.readUInt32LE(8);
  const recordCount = head.readUInt32LE(12);
  const payloadLength = head.readUInt32LE(16);
  const codec = head.readUInt32LE(20);
  const storedCrc = head.readUInt32LE(24);
  if (storedLength > MAX_CHUNK_PAYLOAD_BYTES) {
    throw new LogFormatError('bad-frame', index, start + 8, `stored length ${storedLength} exceeds 4 MiB`);
  }
  if (payloadLength > MAX_CHUNK_PAYLOAD_BYTES) {
    throw new LogFormatError('bad-frame', index, start + 16, `payload length ${payloadLength} exceeds 4 MiB`);
  }
  const storedAt = start + CHUNK_HEADER_BYTES;
  const stored = source.read(storedAt, storedLength);
  if (stored.length < storedLength) {
    throw new LogFormatError(
      'truncated',
      index,
      storedAt + stored.length,
      `the file ends inside the chunk's payload (${storedLength} bytes from byte ${storedAt})`,
    );
  }
  const computed = crc32c(stored, crc32c(head.subarray(0, CHUNK_HEADER_BYTES - 4)));
  if (storedCrc !== computed) {
    throw new LogFormatError('bad-crc', index, start + 24, `chunk CRC32C stored ${hex(storedCrc)}, computed ${hex(computed)}`);
  }
  if (sequence !== index) {
    throw new LogFormatError('bad-sequence', index, start + 4, `chunk has sequence number ${sequence}, expected ${index}`);
  }
  if (codec > CODEC_DEFLATE) throw new LogFormatError('bad-payload', index, start + 20, `unknown codec ${codec}`);
  const payload = loadPayload(codec, stored, payloadLength);
  if (payload === undefined) {
    throw new LogFormatError('bad-payload', index, storedAt, `the stored bytes do not decode to the payload's ${payloadLength} bytes`);
  }
  const decoder = new ChunkDecoder(payload, storedAt, index, vcpus);
  const records: LogRecord[] = [];
  const sizes: number[] = [];
  let before = decoder.position;
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
  return { offset: start, storedBytes: storedLength, payloadBytes: payloadLength, codec, records: recordCount };
}

function readTrailer(source: ByteSupplier, start: number, chunkCount: number, recordTotal: bigint): LogTrailer {
  const fail = (code: 'truncated' | 'bad-trailer' | 'trailing-data', at: number, detail: string): never => {
    throw new LogFormatError(code, TRAILER_CHUNK, at, detail);
  };
  const t = source.read(start, TRAILER_BYTES);
  if (t.length < TRAILER_BYTES) fail('truncated', start + t.length, 'the file ends inside the trailer');
  const stored = t.readUInt32LE(24);
  const computed = crc32c(t.subarray(0, 24));
  if (stored !== computed) fail('bad-trailer', start + 24, `trailer CRC32C stored ${hex(stored)}, computed ${hex(computed)}`);
  const trailer: LogTrailer = {
    chunkCount: t.readUInt32LE(4),
    recordCount: t.readBigUInt64LE(8),
    elapsedNs: t.readBigUInt64LE(16),
  };
  if (trailer.chunkCount !== chunkCount) {
    fail('bad-trailer', start + 4, `trailer counts ${trailer.chunkCount} chunks, the log has ${chunkCount}`);
  }
  if (trailer.recordCount !== recordTotal) {
    fail('bad-trailer', start + 8, `trailer counts ${trailer.recordCount} records, the log has ${recordTotal}`);
  }
  if (source.read(start + TRAILER_BYTES, 1).length > 0) fail('trailing-data', start + TRAILER_BYTES, 'bytes after the trailer');
  return trailer;
}

/**
 * Reads a file a piece at a time, keeping only the piece asked for. The file is checked
 * first (a regular file: a FIFO, a device or a directory is LogFormatError('io') before
 * anything is read); its size needs no bound, since only a chunk at a time is held.
 */
function withFile<T>(path: string, body: (source: ByteSupplier) => T): T {
  let fd: number;
  try {
    ({ fd } = openRegularFile(path, 'log'));
  } catch (error) {
    if (error instanceof FileRefused) throw new LogFormatError('io', HEADER_CHUNK, 0, error.message);
    throw error;
  }
  try {
    return body({
      read(at, length) {
        const out = Buffer.allocUnsafe(length);
        let done = 0;
        while (done < length) {
          let got: number;
          try {
            got = readSync(fd, out, done, length - done, at + done);
          } catch (error) {
            const reason = error instanceof Error ? error.message : String(error);
            throw new LogFormatError('io', HEADER_CHUNK, at + done, `cannot read ${printable(path)}: ${reason}`);
          }
          if (got === 0) break;
          done += got;
        }
        return out.subarray(0, done);
      },
    });
  } finally {
    closeSync(fd);
  }
}

/** Reads a log file; a missing or unreadable file is LogFormatError('io'). */
export function readLogFile(path: string): LogContents {
  const records: LogRecord[] = [];
  const recordBytes: number[] = [];
  const outline = scanLogFile(path, (record, encodedBytes) => {
    records.push(record);
    recordBytes.push(encodedBytes);
  });
  return { ...outline, records, recordBytes };
}

/** Scans a log file (see scanLog) a chunk at a time; a missing or unreadable file is LogFormatError('io'). */
export function scanLogFile(path: string, visit: RecordVisitor): LogOutline {
  return withFile(path, (source) => scanSupplied(source, visit));
}

/** Reads and validates a log's header from its first bytes (a log arriving on a stream). */
export function readLogHeader(bytes: Buffer): LogHeader {
  return readHeader(bufferSupplier(bytes)).header;
}

/** Reads and validates only a log file's header (what a replay needs before it starts). */
export function readLogHeaderFile(path: string): LogHeader {
  return withFile(path, (source) => readHeader(source).header);
}
