/**
 * The replication protocol's framing over TCP: every message is
 *
 *   u32 length (of type + body) | u8 type | body | u32 crc32c(type + body)     (little-endian)
 *
 * A message whose CRC does not match is refused: the receiver resets the connection, and
 * the sender, reconnecting, resends from the position the receiver acknowledged
 * (docs/replication.md). The bodies are in `messages.ts`.
 */
import type { Socket } from 'node:net';
import { crc32c } from '../analysis/crc32c.js';

/** Larger than any log frame (4 MiB payload + framing) with room for a JSON hello. */
export const MAX_MESSAGE_BYTES = 8 << 20;

/** A message that cannot be accepted: the connection it came on is reset. */
export class WireError extends Error {
  override name = 'WireError';
}

export function encodeMessage(type: number, body: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(4 + 1 + body.length + 4);
  out.writeUInt32LE(1 + body.length, 0);
  out.writeUInt8(type, 4);
  out.set(body, 5);
  out.writeUInt32LE(crc32c(out.subarray(4, 5 + body.length)), 5 + body.length);
  return out;
}

/** Splits a byte stream into checked messages; `push` throws WireError for a bad one. */
export class MessageReader {
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  constructor(private readonly onMessage: (type: number, body: Buffer) => void) {}

  push(bytes: Buffer): void {
    this.pending.push(bytes);
    this.pendingBytes += bytes.length;
    for (;;) {
      if (this.pendingBytes < 4) return;
      const head = this.peek(4);
      const length = head.readUInt32LE(0);
      if (length < 1 || length > MAX_MESSAGE_BYTES) throw new WireError(`a message of ${length} bytes`);
      if (this.pendingBytes < 4 + length + 4) return;
      const whole = this.take(4 + length + 4);
      const stored = whole.readUInt32LE(4 + length);
      const computed = crc32c(whole.subarray(4, 4 + length));
      if (stored !== computed) {
        throw new WireError(`a message's CRC32C is 0x${stored.toString(16)}, its bytes give 0x${computed.toString(16)}`);
      }
      this.onMessage(whole.readUInt8(4), whole.subarray(5, 4 + length));
    }
  }

  private peek(n: number): Buffer {
    if (this.pending[0]!.length < n) this.pending = [Buffer.concat(this.pending)];
    return this.pending[0]!.subarray(0, n);
  }

  private take(n: number): Buffer {
    const all = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending);
    const rest = all.subarray(n);
    this.pending = rest.length > 0 ? [rest] : [];
    this.pendingBytes = rest.length;
    return all.subarray(0, n);
  }
}

/**
 * Reads messages from `socket`, calling `onMessage` for each good one; a bad one resets the
 * connection (`onBad` is told why) and nothing after it is read.
 */
export function readMessages(socket: Socket, onMessage: (type: number, body: Buffer) => void, onBad: (error: Error) => void): void {
  const reader = new MessageReader(onMessage);
  socket.on('data', (bytes: Buffer) => {
    if (socket.destroyed) return;
    try {
      reader.push(bytes);
    } catch (error) {
      socket.resetAndDestroy();
      onBad(error as Error);
    }
  });
}
