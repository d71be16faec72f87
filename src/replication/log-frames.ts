/**
 * Splits a log's byte stream (what a recording engine writes to its pipe) into whole frames
 * — the header, each sealed chunk, the trailer — as docs/log-format.md lays them out, so that
 * a primary ships whole frames and counts the records each chunk holds. Frames are checked
 * by the replay that reads them (CRC32C per frame); this only needs their lengths.
 */
export type LogFrameKind = 'header' | 'chunk' | 'trailer';

export interface LogFrame {
  kind: LogFrameKind;
  bytes: Buffer;
  /** records in this frame (chunks only) */
  records: number;
}

const HEADER_FIXED_BYTES = 16;
const CHUNK_HEADER_BYTES = 28;
const TRAILER_BYTES = 28;
const CHUNK_MAGIC = 0x4b4e4843; // "CHNK"
const TRAILER_MAGIC = 0x524c5254; // "TRLR"

/** The kind and record count of one whole frame (the first frame of a stream is its header). */
export function describeFrame(bytes: Buffer, first: boolean): LogFrame {
  if (first) return { kind: 'header', bytes, records: 0 };
  const magic = bytes.readUInt32LE(0);
  if (magic === TRAILER_MAGIC) return { kind: 'trailer', bytes, records: 0 };
  if (magic === CHUNK_MAGIC) return { kind: 'chunk', bytes, records: bytes.readUInt32LE(12) };
  throw new Error(`not a log frame (magic 0x${magic.toString(16)})`);
}

export class LogFrameSplitter {
  private buffered: Buffer = Buffer.alloc(0);
  private seenHeader = false;

  constructor(private readonly onFrame: (frame: LogFrame) => void) {}

  push(bytes: Buffer): void {
    this.buffered = this.buffered.length === 0 ? bytes : Buffer.concat([this.buffered, bytes]);
    for (;;) {
      const length = this.nextFrameLength();
      if (length === undefined || this.buffered.length < length) return;
      const frame = this.buffered.subarray(0, length);
      this.buffered = this.buffered.subarray(length);
      this.onFrame(describeFrame(Buffer.from(frame), !this.seenHeader));
      this.seenHeader = true;
    }
  }

  /** Bytes left over that make no whole frame (at the writer's close: a torn frame). */
  get leftover(): number {
    return this.buffered.length;
  }

  private nextFrameLength(): number | undefined {
    const b = this.buffered;
    if (!this.seenHeader) return b.length < HEADER_FIXED_BYTES ? undefined : HEADER_FIXED_BYTES + b.readUInt32LE(12) + 4;
    if (b.length < 4) return undefined;
    const magic = b.readUInt32LE(0);
    if (magic === TRAILER_MAGIC) return TRAILER_BYTES;
    if (magic !== CHUNK_MAGIC) throw new Error(`the log stream holds no frame here (magic 0x${magic.toString(16)})`);
    return b.length < CHUNK_HEADER_BYTES ? undefined : CHUNK_HEADER_BYTES + b.readUInt32LE(8);
  }
}
