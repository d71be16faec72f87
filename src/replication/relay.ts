/**
 * The output's receiver: what the world sees of a replicated guest. Primaries connect and
 * send console bytes at their offsets in the guest's output; the relay writes each byte
 * once, in order, and drops offsets it has already written — as TCP drops a retransmitted
 * segment — so that a new primary, which replays the output from the start, repeats
 * nothing. Console input goes to the newest primary. `rrkit replica attach`, and the drill.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { MessageType, parseJson } from './messages.js';
import { encodeMessage, readMessages } from './wire.js';

export interface RelayStats {
  /** bytes written, by the replica that sent them first */
  releasedBy: Map<string, number>;
  /** bytes dropped as already written */
  duplicateBytes: number;
  /** bytes that arrived past a hole (output lost before them) */
  gapBytes: number;
  /** bytes from a primary after a newer epoch's primary announced itself (written or not: it should have lost its lease) */
  staleBytes: number;
  /** when each epoch's primary went live (unix ms), after a takeover */
  live: { replica: string; epoch: number; at: number }[];
  /** when each primary announced itself (unix ms) */
  announced: { replica: string; epoch: number; at: number }[];
}

export class Relay {
  private server?: Server;
  private written = 0;
  private current?: { socket: Socket; epoch: number };
  private resolveExit!: (code: number) => void;
  readonly exit: Promise<number> = new Promise((resolve) => (this.resolveExit = resolve));
  readonly stats: RelayStats = { releasedBy: new Map(), duplicateBytes: 0, gapBytes: 0, staleBytes: 0, live: [], announced: [] };
  /** the newest epoch a primary announced */
  private newestEpoch = -1;

  constructor(
    private readonly write: (bytes: Buffer) => void,
    private readonly log: (line: string) => void,
    private readonly onAnnounce?: (replica: string, epoch: number) => void,
  ) {}

  async listen(host: string, port: number): Promise<number> {
    this.server = createServer((socket) => this.accept(socket));
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(port, host, () => resolve());
    });
    const bound = this.server.address();
    return typeof bound === 'object' && bound !== null ? bound.port : port;
  }

  /** Console input for the guest: to the newest primary. */
  input(bytes: Buffer): void {
    this.current?.socket.write(encodeMessage(MessageType.Input, bytes));
  }

  close(): void {
    this.server?.close();
    this.current?.socket.destroy();
  }

  /** Bytes of output written so far. */
  get writtenBytes(): number {
    return this.written;
  }

  private accept(socket: Socket): void {
    let replica = '?';
    let epoch = -1;
    socket.setNoDelay(true);
    socket.on('error', () => {});
    readMessages(
      socket,
      (type, body) => {
        switch (type) {
          case MessageType.Announce: {
            ({ replica, epoch } = parseJson<{ replica: string; epoch: number }>(body));
            this.stats.announced.push({ replica, epoch, at: Date.now() });
            this.newestEpoch = Math.max(this.newestEpoch, epoch);
            if (this.current === undefined || epoch >= this.current.epoch) this.current = { socket, epoch };
            this.onAnnounce?.(replica, epoch);
            return;
          }
          case MessageType.Output:
            if (epoch < this.newestEpoch) this.stats.staleBytes += body.length - 8;
            return this.output(replica, Number(body.readBigUInt64LE(0)), body.subarray(8));
          case MessageType.Live:
            this.stats.live.push({ replica, epoch, at: body.readDoubleLE(0) });
            return;
          case MessageType.Exit:
            this.resolveExit(body.readInt32LE(0));
            return;
        }
      },
      (error) => this.log(`relay: a bad message from ${replica}: ${error.message}`),
    );
  }

  private output(replica: string, offset: number, bytes: Buffer): void {
    const end = offset + bytes.length;
    if (end <= this.written) {
      this.stats.duplicateBytes += bytes.length;
      return;
    }
    if (offset > this.written) {
      this.log(`relay: output from ${replica} at byte ${offset}, but only ${this.written} arrived before: ${offset - this.written} bytes lost`);
      this.stats.gapBytes += offset - this.written;
      this.written = offset;
    }
    const fresh = bytes.subarray(this.written - offset);
    this.stats.duplicateBytes += bytes.length - fresh.length;
    this.stats.releasedBy.set(replica, (this.stats.releasedBy.get(replica) ?? 0) + fresh.length);
    this.written = end;
    this.write(fresh);
  }
}
