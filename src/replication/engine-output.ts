/**
 * The tagged console output of a replica's engine (capture 'tagged'): frames
 * "u64 position, u32 length, bytes", the position being the log's record count when the
 * bytes were flushed. Each becomes an output at its byte offset in the guest's console
 * stream — the same offsets on every replica, since replay reproduces the output.
 */
export interface TaggedOutput {
  /** offset of the first byte in the guest's whole console output */
  offset: number;
  /** records the log must hold (at every backup) before these bytes may leave */
  position: bigint;
  bytes: Buffer;
}

export class TaggedOutputReader {
  private buffered: Buffer = Buffer.alloc(0);
  private offset = 0;

  constructor(private readonly onOutput: (output: TaggedOutput) => void) {}

  /** The guest's console stream starts at `offset` here (a machine restored from a state image), before any output. */
  startAt(offset: number): void {
    this.offset = offset;
  }

  push(bytes: Buffer): void {
    this.buffered = this.buffered.length === 0 ? bytes : Buffer.concat([this.buffered, bytes]);
    while (this.buffered.length >= 12) {
      const length = this.buffered.readUInt32LE(8);
      if (this.buffered.length < 12 + length) return;
      const position = this.buffered.readBigUInt64LE(0);
      const out = Buffer.from(this.buffered.subarray(12, 12 + length));
      this.buffered = this.buffered.subarray(12 + length);
      this.onOutput({ offset: this.offset, position, bytes: out });
      this.offset += length;
    }
  }
}
