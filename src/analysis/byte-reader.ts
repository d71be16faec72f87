/**
 * Reads a CRC-checked piece of a log (header body or chunk payload): LEB128 varints,
 * zigzag, fixed-width little-endian integers. Every failure is a LogFormatError with the
 * piece's error code, its chunk and the exact file offset — the same rules as
 * native/replay/varint.h.
 */
import { LogFormatError, type LogErrorCode } from './log-error.js';

const MAX_VARINT_BYTES = 10;

export class ByteReader {
  private pos = 0;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly fileOffset: number,
    private readonly chunk: number,
    private readonly code: LogErrorCode,
  ) {}

  get position(): number {
    return this.pos;
  }
  get done(): boolean {
    return this.pos === this.bytes.length;
  }
  get remaining(): number {
    return this.bytes.length - this.pos;
  }

  fail(at: number, detail: string, code: LogErrorCode = this.code): never {
    throw new LogFormatError(code, this.chunk, this.fileOffset + at, detail);
  }

  u8(): number {
    this.need(1, 'a byte');
    return this.bytes[this.pos++]!;
  }

  varint(): bigint {
    const start = this.pos;
    let value = 0n;
    for (let i = 0; i < MAX_VARINT_BYTES; i++) {
      if (this.pos >= this.bytes.length) this.fail(start, 'varint runs past the end');
      const byte = this.bytes[this.pos++]!;
      if (i === MAX_VARINT_BYTES - 1 && byte > 1) this.fail(start, 'varint exceeds 64 bits');
      value |= BigInt(byte & 0x7f) << BigInt(7 * i);
      if ((byte & 0x80) === 0) return value;
    }
    return this.fail(start, 'varint longer than 10 bytes');
  }

  /** A zigzag-encoded signed varint, as a signed 64-bit bigint. */
  signedVarint(): bigint {
    const z = this.varint();
    return (z >> 1n) ^ -(z & 1n);
  }

  fixedLe(bytes: number): bigint {
    this.need(bytes, 'a fixed-width integer');
    let value = 0n;
    for (let i = 0; i < bytes; i++) value |= BigInt(this.bytes[this.pos++]!) << BigInt(8 * i);
    return value;
  }

  take(count: number, what: string): Uint8Array {
    this.need(count, what);
    const out = this.bytes.subarray(this.pos, this.pos + count);
    this.pos += count;
    return out;
  }

  /** A varint length, then that many bytes. */
  blob(maxLength: number, what: string): Uint8Array {
    const start = this.pos;
    const length = this.varint();
    if (length > BigInt(maxLength)) this.fail(start, `${what} longer than allowed`);
    return this.take(Number(length), what);
  }

  string(maxLength: number, what: string): string {
    return Buffer.from(this.blob(maxLength, what)).toString('utf8');
  }

  private need(count: number, what: string): void {
    if (count > this.remaining) this.fail(this.pos, `${what} runs past the end`);
  }
}
