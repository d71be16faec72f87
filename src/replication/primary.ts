/**
 * The primary: its engine records the guest (or, after a takeover, replays what the
 * replica received and goes live); every sealed log frame goes to every backup, and the
 * guest's console output leaves only once every live backup has acknowledged the log up to
 * the record that produced it (the output rule), and only while the lease is held.
 *
 * On emu, a backup joins from a state image (docs/replication.md, "Rejoining from a state
 * image"): one the primary dropped (it keeps trying to reach it), one that lost what it held
 * (restarted), and every backup of a primary whose own log does not replay from reset. The
 * joiner leaves the lease's members first; the engine writes an image at its next cut; the
 * joiner gets the log's header, the image, and the log from the chunk that ends with the
 * image's checkpoint; it counts for the output rule, and is a member again, once it has
 * acknowledged that chunk and every output below the image's console offset is released.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TaggedOutput } from './engine-output.js';
import type { EngineEvent, EngineProcess, ImageWritten } from './engine-process.js';
import type { HeldLease } from './lease.js';
import { FrameSpool } from './frame-spool.js';
import type { LogFrame } from './log-frames.js';
import {
  decodeAck,
  encodeFrame,
  encodeInt,
  encodeOutput,
  IMAGE_PART_BYTES,
  json,
  MessageType,
  parseJson,
  type Ack,
  type Hello,
  type ImageMeta,
} from './messages.js';
import { parseAddress } from './address.js';
import type { HelloDisk } from './replica-disk.js';
import { encodeMessage, readMessages } from './wire.js';

export interface PrimaryOptions {
  /** this replica's name in messages and the lease */
  name: string;
  engineName: string;
  vcpus: number;
  imageSha256: string;
  /** the guest's disk image, if any (HELLO: a backup refuses another) */
  disk?: HelloDisk;
  /** the backups (listen addresses) */
  backups: readonly string[];
  /** the output's receiver (HOST:PORT); absent: this process's stdout */
  output?: string;
  heartbeatTimeoutMs: number;
  /**
   * Flow control: log bytes shipped and not yet acknowledged by every live backup past which
   * the primary stops taking its engine's log, so that the guest waits (at least one frame
   * is always let through)
   */
  maxLagBytes: number;
  lease: HeldLease;
  log: (line: string) => void;
  /** test hook: corrupt this log frame (its index) the first time it is sent */
  corruptFrame?: number;
  /** test hook: die (SIGKILL) halfway through sending this log frame (its index) */
  dieMidFrame?: number;
  /** the engine takes state images (emu): backups that were dropped or lost what they held rejoin from one */
  images?: boolean;
  /** false: this primary's log does not replay from reset (its machine was restored from an image), so every backup joins from an image */
  logFromReset?: boolean;
  /** whether the engine's machine runs live now (recording); a promoted standby's goes live later (onLive) */
  machineLive?: boolean;
}

export type PrimaryEnd =
  | { kind: 'exited'; exitCode: number }
  | { kind: 'lost-lease'; reason: string }
  | { kind: 'failed'; message: string };

interface BackupLink {
  address: string;
  /** being taken out of the lease's members (the output rule counts it until that is done) */
  dropping?: boolean;
  socket?: Socket;
  /** the next frame to send */
  next: number;
  acked: Ack;
  welcomed: boolean;
  lastHeard: number;
  downSince?: number;
  dropped: boolean;
  reconnect?: NodeJS.Timeout;
  /** joining from a state image: out of the members and the output rule until admitted */
  joining?: Joining;
}

interface Joining {
  /** being taken out of the lease's members: only then is it reached (startJoin connects) */
  removing?: boolean;
  /** the image sent to it, once sent: where its log goes on from */
  sent?: ImageMeta;
  /** being added to the lease's members */
  admitting?: boolean;
}

/** A state image the engine wrote, ready to send: its bytes and where the log goes on from. */
interface ReadyImage {
  bytes: Buffer;
  meta: ImageMeta;
}

const RECONNECT_MS = 20;
/** How often a primary tries to reach a backup it dropped (emu: it rejoins from a state image). */
const REJOIN_RETRY_MS = 200;
/** How long a primary whose guest exited while its relay link was down tries to deliver the exit before it gives up. */
const EXIT_DELIVERY_MS = 10_000;

/**
 * The default bound on log bytes shipped and not yet acknowledged (`--max-lag`). A loopback
 * backup keeping up holds the lag under a few frames (docs/replication.md, "Flow control",
 * measured); a backup this far behind has about a second of a busy guest's log to replay
 * before it could take over.
 */
export const DEFAULT_MAX_LAG_BYTES = 4 << 20;

/** How much a backup's connection may buffer before the primary waits for it to drain. */
const SOCKET_BUFFER_BYTES = 1 << 20;

export class Primary {
  /** every frame shipped, on disk; the unacknowledged ones also in memory */
  private readonly frames: FrameSpool;
  /** records in frames[0..i] */
  private readonly recordsThrough: bigint[] = [];
  /** log bytes in frames[0..i] */
  private readonly bytesThrough: number[] = [];
  /** frames the engine wrote that wait for room under maxLagBytes (the engine's log is paused meanwhile) */
  private readonly held: LogFrame[] = [];
  private flow = { waits: 0, waitedMs: 0, since: 0, maxLag: 0 };
  private readonly links = new Map<string, BackupLink>();
  private readonly pending: TaggedOutput[] = [];
  private released = 0;
  private relay?: Socket;
  private relayQueue: Buffer[] = [];
  /** resolves once a (re)connected relay link took relayQueue */
  private relayFlushed: (() => void) | undefined;
  private endedBy: PrimaryEnd['kind'] | undefined;
  private engineDone?: Extract<EngineEvent, { kind: 'done' }>;
  private liveAt?: number;
  private ended = false;
  private timers: NodeJS.Timeout[] = [];
  /** a renewal in flight (etcd's take a round trip; one at a time) */
  private renewing = false;
  private memberWrites: Promise<void> = Promise.resolve();
  private resolveEnd!: (end: PrimaryEnd) => void;
  readonly done: Promise<PrimaryEnd>;
  private corruptOnce: number | undefined;
  /** when each pending output reached this process (ms), for the output rule's cost */
  private readonly arrived = new Map<number, number>();
  private readonly heldMs: number[] = [];
  private logBytes = 0;
  private readonly started = performance.now();
  /** state images: the engine's, and the image asked for or written and not yet placed in the log */
  private imageDir?: string;
  private imageAsked = false;
  private imageWritten?: Extract<ImageWritten, { records: string }>;
  private image?: ReadyImage;
  private imageCount = 0;
  private machineLive: boolean;

  constructor(
    private readonly options: PrimaryOptions,
    private readonly engine: EngineProcess,
    /** the log the engine wrote before this primary started (a promoted backup's), adopted */
    spool?: FrameSpool,
  ) {
    this.frames = spool ?? new FrameSpool();
    this.done = new Promise((resolve) => (this.resolveEnd = resolve));
    this.corruptOnce = options.corruptFrame;
    this.machineLive = options.machineLive ?? true;
  }

  /**
   * Starts shipping and releasing; `earlier` is what the engine produced before (a promoted
   * backup's), its log frames in the spool this primary adopted.
   */
  start(earlier: { outputs: TaggedOutput[]; liveAt?: number; done?: Extract<EngineEvent, { kind: 'done' }> }): void {
    // A backup taking over is heard of at once; a first primary once its machine runs.
    if (this.options.lease.epoch > 0 && this.options.output !== undefined) this.connectRelay();
    for (let index = 0; index < this.frames.length; ++index) this.took(this.frames.describe(index));
    for (const output of earlier.outputs) this.onOutput(output);
    if (earlier.liveAt !== undefined) this.onLive(earlier.liveAt);
    for (const address of this.options.backups) this.addBackup(address, this.options.images === true && this.options.logFromReset === false);
    const hb = this.options.heartbeatTimeoutMs;
    this.timers.push(setInterval(() => this.renewLease(), Math.max(5, this.options.lease.renewEveryMs)));
    this.timers.push(setInterval(() => this.heartbeat(), Math.max(5, hb / 4)));
    this.timers.push(setInterval(() => this.tryRelease(), 5));
    if (earlier.done !== undefined) this.onDone(earlier.done);
  }

  // --- engine events ---------------------------------------------------------------------

  onLogFrame(frame: LogFrame): void {
    if (this.ended) return; // a failed or finished primary ships nothing more
    if (this.held.length > 0 || !this.roomFor(frame)) {
      this.held.push(frame);
      if (this.held.length === 1) {
        this.engine.pauseLog();
        this.flow.waits += 1;
        this.flow.since = performance.now();
      }
      return;
    }
    this.take(frame);
  }

  /** Ships a frame the engine wrote: into the spool and down every backup link. */
  private take(frame: LogFrame): void {
    this.frames.append(frame);
    this.took({ records: frame.records, length: frame.bytes.length });
    this.releaseAcknowledged(); // with no backup to ship to, nothing waits for it
  }

  /** Counts a frame the spool holds now, and sends it on. */
  private took(frame: { records: number; length: number }): void {
    const before = this.recordsThrough.at(-1) ?? 0n;
    this.logBytes += frame.length;
    this.recordsThrough.push(before + BigInt(frame.records));
    this.bytesThrough.push(this.logBytes);
    this.flow.maxLag = Math.max(this.flow.maxLag, this.lagBytes());
    // The receiver hears of this primary once its machine runs (the log's first frame).
    if (this.recordsThrough.length === 1 && this.options.lease.epoch === 0 && this.options.output !== undefined) this.connectRelay();
    for (const link of this.links.values()) this.pump(link);
    this.placeImage();
    this.tryFinish(); // the trailer may come after the engine said it was done
  }

  onOutput(output: TaggedOutput): void {
    this.arrived.set(output.offset, performance.now());
    this.pending.push(output);
    this.tryRelease();
  }

  onLive(at: number): void {
    this.liveAt = at;
    this.machineLive = true;
    this.askForImage();
    const body = Buffer.alloc(8);
    body.writeDoubleLE(at, 0);
    this.toRelay(encodeMessage(MessageType.Live, body));
  }

  onDone(done: Extract<EngineEvent, { kind: 'done' }>): void {
    this.engineDone = done;
    if (done.outcome !== 'exited' && done.outcome !== 'went-live') {
      this.finish({ kind: 'failed', message: `the guest's machine failed (${done.outcome}): ${done.detail}` });
      return;
    }
    this.tryFinish();
  }

  // --- flow control ----------------------------------------------------------------------

  /** Log bytes shipped that some live backup has not acknowledged. */
  private lagBytes(): number {
    let acked: number | undefined;
    for (const link of this.links.values()) {
      if (link.dropped || link.joining !== undefined) continue;
      const through = link.acked.frames === 0 ? 0 : this.bytesThrough[link.acked.frames - 1]!;
      acked = acked === undefined ? through : Math.min(acked, through);
    }
    return acked === undefined ? 0 : this.logBytes - acked;
  }

  private roomFor(frame: LogFrame): boolean {
    const lag = this.lagBytes();
    return lag === 0 || lag + frame.bytes.length <= this.options.maxLagBytes;
  }

  /**
   * Frees the memory of the frames every member has acknowledged: a backup asks for one of
   * those again only after losing its connection, and then it is read from the spool's file.
   */
  private releaseAcknowledged(): void {
    let below = this.frames.length;
    for (const link of this.links.values()) {
      if (!link.dropped && link.joining === undefined) below = Math.min(below, link.acked.frames);
    }
    this.frames.release(below);
  }

  /** Takes the held frames there is room for now; once none is left, the engine's log flows again. */
  private drainHeld(): void {
    if (this.held.length === 0) return;
    while (this.held.length > 0 && this.roomFor(this.held[0]!)) this.take(this.held.shift()!);
    if (this.held.length === 0) {
      this.flow.waitedMs += performance.now() - this.flow.since;
      this.engine.resumeLog();
    }
  }

  // --- backups ---------------------------------------------------------------------------

  private addBackup(address: string, fromImage: boolean): void {
    const link: BackupLink = { address, next: 0, acked: { frames: 0, records: 0n, complete: false }, welcomed: false, lastHeard: Date.now(), dropped: false };
    this.links.set(address, link);
    if (fromImage) this.startJoin(link, 'its primary\'s log does not replay from reset');
    else this.connectBackup(link);
  }

  private connectBackup(link: BackupLink): void {
    if (this.ended || link.dropped) return;
    const { host, port } = parseAddress(link.address, 'a backup');
    const socket = connect({ host, port });
    socket.setNoDelay(true);
    link.socket = socket;
    link.welcomed = false;
    socket.on('drain', () => this.pump(link));
    socket.on('connect', () => {
      link.lastHeard = Date.now();
      const hello: Hello = {
        epoch: this.options.lease.epoch,
        primary: this.options.name,
        engine: this.options.engineName,
        vcpus: this.options.vcpus,
        maxLagBytes: this.options.maxLagBytes,
        imageSha256: this.options.imageSha256,
        ...(this.options.disk === undefined ? {} : { disk: this.options.disk }),
        members: [...this.options.lease.members],
        you: link.address,
        output: this.options.output,
        ...(link.joining === undefined ? {} : { image: true }),
      };
      socket.write(encodeMessage(MessageType.Hello, json(hello)));
    });
    readMessages(
      socket,
      (type, body) => this.onBackupMessage(link, socket, type, body),
      (error) => this.options.log(`backup ${link.address}: ${error.message}; connection reset`),
    );
    socket.on('error', () => {});
    socket.on('close', () => {
      if (link.socket !== socket) return;
      link.socket = undefined;
      const joining = link.joining;
      if (joining !== undefined) {
        // Out of the members: try again, and send the image again then (unless startJoin
        // is still taking it out of the members: it connects once that is done).
        joining.sent = undefined;
        joining.admitting = undefined;
        if (!this.ended && joining.removing !== true) link.reconnect = setTimeout(() => this.connectBackup(link), REJOIN_RETRY_MS);
        return;
      }
      link.downSince ??= Date.now();
      if (this.ended || link.dropped) return;
      if (Date.now() - link.downSince > this.options.heartbeatTimeoutMs) return this.dropBackup(link, 'unreachable');
      link.reconnect = setTimeout(() => this.connectBackup(link), RECONNECT_MS);
    });
  }

  private onBackupMessage(link: BackupLink, socket: Socket, type: number, body: Buffer): void {
    link.lastHeard = Date.now();
    switch (type) {
      case MessageType.Welcome: {
        const { frames } = parseJson<{ frames: number }>(body);
        // It lost what it had acknowledged, or holds nothing of what it was sent (restarted):
        // it rejoins from an image.
        if (link.joining === undefined && this.options.images === true && (frames < link.acked.frames || (frames === 0 && link.next > 1))) {
          this.options.log(`backup ${link.address} holds ${frames} frames, having been sent ${link.next} and acknowledged ${link.acked.frames}: it lost them`);
          socket.destroy();
          this.startJoin(link, 'it lost the log it held');
          return;
        }
        link.welcomed = true;
        link.downSince = undefined;
        link.next = link.joining === undefined ? frames : 0; // a joiner starts afresh: the header, then the image
        this.pump(link);
        if (link.joining !== undefined) this.placeImage();
        return;
      }
      case MessageType.Refuse:
        link.dropped = true;
        socket.destroy();
        this.finish({ kind: 'failed', message: `backup ${link.address} refused the primary: ${body.toString('utf8')}` });
        return;
      case MessageType.Ack:
        link.acked = decodeAck(body);
        this.releaseAcknowledged();
        if (link.joining !== undefined) this.tryAdmit(link);
        this.drainHeld();
        this.tryRelease();
        this.tryFinish();
        return;
      case MessageType.Heartbeat:
        return;
    }
  }

  private pump(link: BackupLink): void {
    const socket = link.socket;
    if (socket === undefined || !link.welcomed || socket.destroyed || this.ended) return;
    // A joiner gets the header, then waits for its image (sendImage moves it on).
    const until = link.joining !== undefined && link.joining.sent === undefined ? Math.min(1, this.frames.length) : this.frames.length;
    // A backup far behind (one that follows from the log's start) is sent the log as its
    // connection drains, not all at once: that would hold the whole log in memory again.
    while (link.next < until && socket.writableLength < SOCKET_BUFFER_BYTES) {
      const index = link.next++;
      let frame = encodeMessage(MessageType.Frame, encodeFrame(index, this.frames.at(index).bytes));
      if (this.corruptOnce === index) {
        this.corruptOnce = undefined;
        frame = Buffer.from(frame);
        frame[frame.length - 6]! ^= 0x5a; // a bit flipped in the frame's last bytes
        this.options.log(`corrupting log frame ${index} on its way to ${link.address} (test)`);
      }
      if (this.options.dieMidFrame === index) {
        socket.write(frame.subarray(0, frame.length >> 1), () => process.kill(process.pid, 'SIGKILL'));
        return;
      }
      socket.write(frame);
    }
  }

  // --- joining from a state image --------------------------------------------------------

  /** Takes `link` out of the members and the output rule, then has it join from an image. */
  private startJoin(link: BackupLink, why: string): void {
    if (this.options.images !== true || this.ended) return;
    const joining: Joining = { removing: true };
    link.joining = joining;
    link.welcomed = false;
    link.acked = { frames: 0, records: 0n, complete: false };
    link.downSince = undefined;
    this.memberWrites = this.memberWrites
      .then(async () => {
        // Out of the members before it drops what it holds: it must not take over meanwhile.
        if (!(await this.options.lease.setMembers(this.memberList()))) return this.loseLease();
        if (this.ended) return;
        this.options.log(`backup ${link.address} joins from a state image (${why})`);
        joining.removing = false;
        this.drainHeld();
        this.tryRelease();
        clearTimeout(link.reconnect);
        if (link.socket === undefined || link.socket.destroyed) this.connectBackup(link);
      })
      .catch((error: unknown) => this.finish({ kind: 'failed', message: `taking backup ${link.address} out of the lease: ${(error as Error).message}` }));
  }

  /** The lease's members: every backup counted by the output rule. */
  private memberList(): string[] {
    return [...this.links.values()].filter((l) => !l.dropped && l.dropping !== true && l.joining === undefined).map((l) => l.address);
  }

  private joinersWaiting(): BackupLink[] {
    return [...this.links.values()].filter((l) => l.joining !== undefined && l.welcomed && l.joining.sent === undefined);
  }

  /** Asks the engine for an image at its next cut, when a joiner waits and none is on its way. */
  private askForImage(): void {
    if (this.ended || this.imageAsked || !this.machineLive || this.joinersWaiting().length === 0) return;
    if (this.image !== undefined) return this.placeImage();
    this.imageDir ??= mkdtempSync(join(tmpdir(), 'rrkit-primary-images-'));
    this.imageAsked = true;
    this.engine.requestImage(join(this.imageDir, `image-${++this.imageCount}.rrimg`));
  }

  onImage(written: ImageWritten): void {
    this.imageAsked = false;
    if (this.ended) return;
    if (written.error !== undefined) {
      this.options.log(`a state image for joining backups failed: ${written.error}; asking again`);
      setTimeout(() => this.askForImage(), REJOIN_RETRY_MS).unref();
      return;
    }
    this.imageWritten = written;
    this.placeImage();
  }

  /** Once the chunk that ends with the image's checkpoint is here, the image can go out. */
  private placeImage(): void {
    const written = this.imageWritten;
    if (written !== undefined) {
      const records = BigInt(written.records);
      const frame = this.recordsThrough.findIndex((through) => through >= records);
      if (frame < 0) return; // its chunk is still in the engine's pipe
      if (this.recordsThrough[frame] !== records) {
        this.options.log(`a state image's checkpoint (record ${records}) does not end a log frame; asking again`);
      } else {
        this.image = {
          bytes: readFileSync(written.path),
          meta: {
            fromFrame: frame,
            recordsBefore: String(frame === 0 ? 0n : this.recordsThrough[frame - 1]!),
            consoleOffset: Number(written.consoleOffset),
            checkpoint: written.checkpoint,
            counts: written.counts,
          },
        };
      }
      rmSync(written.path, { force: true });
      this.imageWritten = undefined;
    }
    if (this.image === undefined) return this.askForImage();
    for (const link of this.joinersWaiting()) this.sendImage(link, this.image);
    // The next joiner gets a fresh image, nearer to where the guest is by then.
    this.image = undefined;
  }

  private sendImage(link: BackupLink, image: ReadyImage): void {
    const socket = link.socket;
    if (socket === undefined || socket.destroyed || link.joining === undefined || link.next < 1) return;
    for (let at = 0; at < image.bytes.length; at += IMAGE_PART_BYTES) {
      socket.write(encodeMessage(MessageType.ImagePart, image.bytes.subarray(at, at + IMAGE_PART_BYTES)));
    }
    socket.write(encodeMessage(MessageType.Image, json(image.meta)));
    link.joining.sent = image.meta;
    link.next = image.meta.fromFrame;
    this.options.log(
      `backup ${link.address}: sent a state image at checkpoint ${image.meta.checkpoint} (${image.meta.counts.map((c, v) => `vcpu ${v} @ ${c}`).join(', ')}), ` +
        `${image.bytes.length} bytes; the log from frame ${image.meta.fromFrame}`,
    );
    this.pump(link);
  }

  /**
   * A joiner that holds the image's chunk counts again, and is a member again, once no
   * output below the image's console offset waits: its machine does not write those bytes.
   */
  private tryAdmit(link: BackupLink): void {
    const joining = link.joining;
    if (joining?.sent === undefined || joining.admitting === true || this.ended) return;
    if (link.acked.frames <= joining.sent.fromFrame || this.released < joining.sent.consoleOffset) return;
    joining.admitting = true;
    const sent = joining.sent;
    this.memberWrites = this.memberWrites
      .then(async () => {
        if (link.joining !== joining || joining.sent !== sent || this.ended) return;
        if (!(await this.options.lease.setMembers([...this.memberList(), link.address]))) return this.loseLease();
        link.joining = undefined;
        if (link.socket === undefined) {
          // Its connection broke meanwhile: a member now, reached again as any backup is.
          link.downSince = Date.now();
          clearTimeout(link.reconnect);
          link.reconnect = setTimeout(() => this.connectBackup(link), RECONNECT_MS);
        }
        this.options.log(
          `backup ${link.address} rejoined from the state image at checkpoint ${sent.checkpoint} (${sent.counts.map((c, v) => `vcpu ${v} @ ${c}`).join(', ')}); ` +
            `${this.memberList().length} backup(s)`,
        );
        this.tryRelease();
      })
      .catch((error: unknown) => this.finish({ kind: 'failed', message: `adding backup ${link.address} to the lease: ${(error as Error).message}` }));
  }

  private dropBackup(link: BackupLink, why: string): void {
    if (link.dropped || link.dropping === true) return;
    link.dropping = true;
    // One write of the members at a time, each leaving out every backup dropped before it.
    this.memberWrites = this.memberWrites
      .then(() => this.dropFromMembers(link, why))
      .catch((error: unknown) => this.finish({ kind: 'failed', message: `dropping backup ${link.address} from the lease: ${(error as Error).message}` }));
  }

  private async dropFromMembers(link: BackupLink, why: string): Promise<void> {
    // Out of the lease's members before the output rule stops counting it: a dropped
    // backup must never take over with less than was released.
    const members = this.memberList();
    if (!(await this.options.lease.setMembers(members))) return this.loseLease();
    if (this.ended) return;
    link.dropped = true;
    link.socket?.destroy();
    clearTimeout(link.reconnect);
    this.options.log(`backup ${link.address} dropped (${why}); ${members.length} backup(s) left`);
    if (this.options.images === true) {
      // It may come back (restarted, or the network healed): it rejoins from an image.
      link.reconnect = setTimeout(() => {
        link.dropped = false;
        link.dropping = undefined;
        link.joining = {};
        link.acked = { frames: 0, records: 0n, complete: false };
        this.connectBackup(link);
      }, REJOIN_RETRY_MS);
    }
    this.drainHeld();
    this.tryRelease();
    this.tryFinish();
  }

  private heartbeat(): void {
    const now = Date.now();
    for (const link of this.links.values()) {
      if (link.dropped) continue;
      if (link.socket !== undefined && link.welcomed) link.socket.write(encodeMessage(MessageType.Heartbeat, Buffer.alloc(0)));
      if (link.joining !== undefined) {
        // A joiner is out of the members: a silent one is simply tried again.
        if (link.socket !== undefined && now - link.lastHeard > this.options.heartbeatTimeoutMs) link.socket.destroy();
        continue;
      }
      if (now - link.lastHeard > this.options.heartbeatTimeoutMs) {
        if (link.socket !== undefined) link.socket.destroy();
        else if (link.downSince !== undefined && now - link.downSince > this.options.heartbeatTimeoutMs) this.dropBackup(link, 'silent');
      }
    }
  }

  // --- the output rule -------------------------------------------------------------------

  /** Records every live backup holds (all of them: no backup left). */
  private acknowledged(): bigint {
    let min: bigint | undefined;
    for (const link of this.links.values()) {
      if (link.dropped || link.joining !== undefined) continue;
      if (min === undefined || link.acked.records < min) min = link.acked.records;
    }
    return min ?? (this.recordsThrough.at(-1) ?? 0n) + (1n << 62n);
  }

  private tryRelease(): void {
    if (this.ended || this.pending.length === 0 || !this.options.lease.mayRelease()) return;
    const acknowledged = this.acknowledged();
    while (this.pending.length > 0 && this.pending[0]!.position <= acknowledged) {
      const output = this.pending.shift()!;
      const arrived = this.arrived.get(output.offset);
      this.arrived.delete(output.offset);
      if (arrived !== undefined && this.options.lease.epoch === 0) this.heldMs.push(performance.now() - arrived);
      this.released = output.offset + output.bytes.length;
      if (this.options.output === undefined) process.stdout.write(output.bytes);
      else this.toRelay(encodeMessage(MessageType.Output, encodeOutput(output.offset, output.bytes)));
    }
    for (const link of this.links.values()) if (link.joining !== undefined) this.tryAdmit(link);
    this.tryFinish();
  }

  private tryFinish(): void {
    const done = this.engineDone;
    if (this.ended || done === undefined || this.pending.length > 0) return;
    const complete = this.frames.lastKind === 'trailer';
    if (!complete) return;
    for (const link of this.links.values()) {
      if (link.dropped || link.joining !== undefined) continue;
      if (!(link.acked.complete && link.acked.frames === this.frames.length)) return;
    }
    if (!this.options.lease.mayRelease()) return;
    this.reportCosts();
    this.toRelay(encodeMessage(MessageType.Exit, encodeInt(done.exitCode)));
    for (const link of this.links.values()) link.socket?.write(encodeMessage(MessageType.Bye, encodeInt(done.exitCode)));
    this.finish({ kind: 'exited', exitCode: done.exitCode });
  }

  // --- lease and relay -------------------------------------------------------------------

  private renewLease(): void {
    if (this.ended || this.renewing) return;
    this.renewing = true;
    void this.options.lease.renew().then(
      (held) => {
        this.renewing = false;
        if (!held) this.loseLease();
      },
      (error: unknown) => {
        this.renewing = false;
        this.finish({ kind: 'failed', message: `renewing the lease: ${(error as Error).message}` });
      },
    );
  }

  private loseLease(): void {
    this.finish({ kind: 'lost-lease', reason: this.options.lease.lost ?? 'the lease lapsed' });
  }

  /** Whether the guest's exit (and what preceded it) still waits in relayQueue for a link to the relay. */
  private exitUndelivered(): boolean {
    return this.endedBy === 'exited' && this.relayQueue.length > 0;
  }

  private connectRelay(): void {
    if (this.ended && !this.exitUndelivered()) return;
    const { host, port } = parseAddress(this.options.output!, '--output');
    const socket = connect({ host, port });
    socket.setNoDelay(true);
    socket.on('connect', () => {
      if (this.options.lease.epoch > 0) this.options.log(`epoch ${this.options.lease.epoch}: output to ${this.options.output}`);
      this.relay = socket;
      socket.write(encodeMessage(MessageType.Announce, json({ replica: this.options.name, epoch: this.options.lease.epoch })));
      for (const message of this.relayQueue) socket.write(message);
      this.relayQueue = [];
      this.relayFlushed?.();
    });
    readMessages(
      socket,
      (type, body) => {
        if (type === MessageType.Input) this.engine.input(body);
      },
      () => {},
    );
    socket.on('error', () => {});
    socket.on('close', () => {
      if (this.relay === socket) this.relay = undefined;
      if (!this.ended || this.exitUndelivered()) setTimeout(() => this.connectRelay(), RECONNECT_MS);
    });
  }

  private toRelay(message: Buffer): void {
    if (this.options.output === undefined) return;
    if (this.relay !== undefined) this.relay.write(message);
    else this.relayQueue.push(message);
  }

  /** One line: how long the output rule held output, and the log's bandwidth. */
  private reportCosts(): void {
    const seconds = (performance.now() - this.started) / 1000;
    const held = [...this.heldMs].sort((a, b) => a - b);
    const at = (q: number): string => (held.length === 0 ? '-' : held[Math.min(held.length - 1, Math.floor(q * held.length))]!.toFixed(2));
    const live = this.memberList().length;
    this.options.log(
      `the guest exited (${this.released} output bytes released); ` +
        (this.options.lease.epoch === 0 ? `the output rule held ${held.length} flushes a median ${at(0.5)} ms, p99 ${at(0.99)} ms with ${live} backup(s); ` : '') +
        `log shipped: ${this.frames.length} frames, ${this.logBytes} bytes, ${((this.logBytes * 8) / seconds / 1e6).toFixed(2)} Mbit/s over ${seconds.toFixed(2)} s; ` +
        `flow control: at most ${this.flow.maxLag} bytes unacknowledged (bound ${this.options.maxLagBytes}), ` +
        `the guest waited for the backups ${this.flow.waits} times, ${this.flow.waitedMs.toFixed(0)} ms in all; ` +
        `log in memory: at most ${this.frames.memoryBytes.peak} bytes (all of it in a spool file)`,
    );
  }

  /** Bytes of output released so far. */
  get releasedBytes(): number {
    return this.released;
  }

  private finish(end: PrimaryEnd): void {
    if (this.ended) return;
    this.ended = true;
    this.endedBy = end.kind;
    for (const timer of this.timers) clearInterval(timer);
    for (const link of this.links.values()) clearTimeout(link.reconnect);
    if (end.kind !== 'exited') this.engine.kill();
    if (this.imageDir !== undefined) rmSync(this.imageDir, { recursive: true, force: true });
    this.frames.close();
    if (this.exitUndelivered()) {
      // The relay's link was down when the guest exited: the world has not heard the exit (nor
      // the output queued before it). Going now would leave it unheard, with every replica
      // ended; wait, bounded, for the reconnection to carry it. Only an exit is carried after
      // the end: a primary that lost its lease sends nothing more.
      const flushed = new Promise<void>((resolve) => (this.relayFlushed = resolve));
      const gaveUp = new Promise<void>((resolve) => setTimeout(resolve, EXIT_DELIVERY_MS).unref());
      void Promise.race([flushed, gaveUp]).then(() => this.closeLinks(end));
      return;
    }
    this.closeLinks(end);
  }

  private closeLinks(end: PrimaryEnd): void {
    const sockets = [...[...this.links.values()].map((l) => l.socket), this.relay].filter((s): s is Socket => s !== undefined);
    // Let what was written reach the wire, then close.
    let open = sockets.length;
    if (open === 0) return this.resolveEnd(end);
    for (const socket of sockets) {
      socket.end(() => {
        if (--open === 0) this.resolveEnd(end);
      });
    }
    setTimeout(() => this.resolveEnd(end), 500);
  }
}
