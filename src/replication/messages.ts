import type { HelloDisk } from './replica-disk.js';

/**
 * The replication protocol's messages (framed by wire.ts). Between a primary and a backup:
 *
 *   primary → backup   HELLO {epoch, primary, engine, vcpus, imageSha256, disk?, members}
 *   backup → primary   WELCOME {frames}  (how many log frames of this epoch it holds: resend from there)
 *                      | REFUSE "reason" (an image mismatch; the connection then closes)
 *   primary → backup   FRAME u32 index, one whole log frame (header, chunk or trailer)
 *   backup → primary   ACK u32 frames, u64 records, u8 complete  (received and handed to its replay)
 *   both ways          HEARTBEAT (every timeout / 4)
 *   primary → backup   BYE u32 exit code (the guest exited and every backup holds the whole log)
 *   primary → backup   IMAGE_PART bytes, ..., IMAGE {fromFrame, recordsBefore, consoleOffset, checkpoint, counts}
 *                      (a joining backup, HELLO.image: a state image of the primary's machine in
 *                      parts of at most 4 MiB, then where the log goes on from; FRAME fromFrame
 *                      follows, whose chunk ends with the image's checkpoint)
 *
 * Between a primary and the output's receiver (the relay: `rrkit replica attach`, the drill):
 *
 *   primary → relay    ANNOUNCE {replica, epoch}
 *   primary → relay    OUTPUT u64 offset, bytes  (console bytes at this offset of the guest's output)
 *   primary → relay    LIVE f64 unix ms          (a new primary's machine went live)
 *   primary → relay    EXIT i32 code
 *   relay → primary    INPUT bytes               (console input, logged by the primary)
 */
export const enum MessageType {
  Hello = 1,
  Welcome = 2,
  Refuse = 3,
  Frame = 4,
  Ack = 5,
  Heartbeat = 6,
  Bye = 7,
  Announce = 8,
  Output = 9,
  Live = 10,
  Exit = 11,
  Input = 12,
  ImagePart = 13,
  Image = 14,
}

/** The most image bytes one IMAGE_PART carries (wire.ts: MAX_MESSAGE_BYTES). */
export const IMAGE_PART_BYTES = 4 << 20;

/** IMAGE: where the log goes on from the state image sent in IMAGE_PARTs just before. */
export interface ImageMeta {
  /** the frame index of the chunk that ends with the image's checkpoint, sent next */
  fromFrame: number;
  /** records in the frames before it */
  recordsBefore: string;
  /** where the restored machine's output starts in the guest's console stream */
  consoleOffset: number;
  /** the image's cut, for messages: its checkpoint ordinal and each vCPU's landmark */
  checkpoint: number;
  counts: string[];
}

export interface Hello {
  epoch: number;
  /** the primary's name (its listen address, or "primary") */
  primary: string;
  engine: string;
  vcpus: number;
  /** the primary's flow-control bound (log bytes unacknowledged), which a backup taking over keeps */
  maxLagBytes: number;
  imageSha256: string;
  /** the guest's disk image (kvm), if it has one: a backup must hold the same (replica-disk.ts) */
  disk?: HelloDisk;
  /** every backup of this epoch (listen addresses), so that one taking over can reach the others */
  members: string[];
  /**
   * the address the primary reaches this backup at, its name in the lease's members (it
   * differs from the backup's own listen address behind a forwarder: the netns tests' delay)
   */
  you?: string;
  /** where output goes (the relay), if anywhere but the primary's stdout */
  output?: string;
  /**
   * this backup joins from a state image (emu: it was dropped or lost what it held, or the
   * primary's log does not replay from reset): it starts its standby only once IMAGE came
   */
  image?: boolean;
}

export interface Ack {
  frames: number;
  records: bigint;
  complete: boolean;
}

export const json = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));
export const parseJson = <T>(body: Buffer): T => JSON.parse(body.toString('utf8')) as T;

export function encodeAck(ack: Ack): Buffer {
  const body = Buffer.alloc(13);
  body.writeUInt32LE(ack.frames, 0);
  body.writeBigUInt64LE(ack.records, 4);
  body.writeUInt8(ack.complete ? 1 : 0, 12);
  return body;
}

export function decodeAck(body: Buffer): Ack {
  return { frames: body.readUInt32LE(0), records: body.readBigUInt64LE(4), complete: body.readUInt8(12) === 1 };
}

export function encodeFrame(index: number, frame: Buffer): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt32LE(index, 0);
  return Buffer.concat([head, frame]);
}

export function encodeOutput(offset: number, bytes: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeBigUInt64LE(BigInt(offset), 0);
  return Buffer.concat([head, bytes]);
}

export function encodeInt(value: number): Buffer {
  const body = Buffer.alloc(4);
  body.writeInt32LE(value, 0);
  return body;
}
