/**
 * A backup: listens for its primary, checks that both run the same guest image, feeds the
 * log frames it receives to a standby engine that replays them as they arrive (hot
 * standby), and acknowledges what it holds. When the primary falls silent for the
 * heartbeat timeout and its lease has lapsed, one backup wins the next epoch's lease: its
 * engine replays what it received, goes live, and it becomes the primary of the others.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EngineProcess, type EngineEvent, type EngineSpec } from './engine-process.js';
import type { TaggedOutput } from './engine-output.js';
import type { HeldLease, LeaseStore, TakeOver } from './lease.js';
import { FrameSpool } from './frame-spool.js';
import type { LogFrame } from './log-frames.js';
import { describeFrame } from './log-frames.js';
import { encodeAck, json, MessageType, parseJson, type Hello, type ImageMeta } from './messages.js';
import { Primary, type PrimaryEnd } from './primary.js';
import { parseAddress, formatAddress } from './address.js';
import { diskMismatch, type ReplicaDisk } from './replica-disk.js';
import { encodeMessage, readMessages } from './wire.js';

export interface BackupOptions {
  listen: string;
  guest: string;
  imageSha256: string;
  /** this replica's copy of the guest's disk image (kvm), if it has one */
  disk?: ReplicaDisk;
  /** where the leases are (lock files or etcd) */
  leases: LeaseStore;
  heartbeatTimeoutMs: number;
  log: (line: string) => void;
  /** test hook: a slow backup — send each ACK this long after the previous one */
  ackDelayMs?: number;
  /** called once listening, with the address actually bound */
  onListening?: (address: string) => void;
}

export type BackupEnd = PrimaryEnd | { kind: 'bye'; exitCode: number };

/** One engine's life: the stream of one epoch, and what the engine made of it. */
interface Standby {
  epoch: number;
  hello: Hello;
  engine?: EngineProcess;
  frames: number;
  records: bigint;
  complete: boolean;
  /** the engine's own log (the next log, if it goes live), on disk, and its console output, kept for a takeover */
  nextFrames: FrameSpool;
  outputs: TaggedOutput[];
  liveAt?: number;
  done?: Extract<EngineEvent, { kind: 'done' }>;
  /** joining from a state image (HELLO.image): the header, held until the image is here, and the image's parts so far */
  joining?: { header?: Buffer; parts: Buffer[] };
  /** the image it started from, if any: its log then does not replay from reset */
  image?: ImageMeta;
}

export class Backup {
  private server?: Server;
  private name = '';
  private standby?: Standby;
  private primarySocket?: Socket;
  private lastHeard = Date.now();
  private promoted?: Primary;
  private watchdog?: NodeJS.Timeout;
  private told = '';
  /** a takeover attempt in flight (etcd's take round trips; one at a time) */
  private trying = false;
  private ended = false;
  private readonly slowAcks: { socket: Socket; message: Buffer }[] = [];
  private slowAckTimer?: NodeJS.Timeout;
  private imageDir?: string;
  private resolveEnd!: (end: BackupEnd) => void;
  readonly done: Promise<BackupEnd> = new Promise((resolve) => (this.resolveEnd = resolve));

  constructor(private readonly options: BackupOptions) {}

  async listen(): Promise<string> {
    const { host, port } = parseAddress(this.options.listen, '--listen');
    this.server = createServer((socket) => this.accept(socket));
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(port, host, () => resolve());
    });
    const bound = this.server.address();
    this.name = typeof bound === 'object' && bound !== null ? formatAddress({ host, port: bound.port }) : this.options.listen;
    this.watchdog = setInterval(() => this.watch(), Math.max(5, this.options.heartbeatTimeoutMs / 8));
    this.options.onListening?.(this.name);
    return this.name;
  }

  private accept(socket: Socket): void {
    socket.setNoDelay(true);
    socket.on('error', () => {});
    readMessages(
      socket,
      (type, body) => this.onMessage(socket, type, body),
      (error) => this.options.log(`refused a message from the primary: ${error.message}; connection reset`),
    );
    socket.on('close', () => {
      if (this.primarySocket === socket) this.primarySocket = undefined;
    });
  }

  private onMessage(socket: Socket, type: number, body: Buffer): void {
    if (this.promoted !== undefined) {
      socket.destroy();
      return;
    }
    if (type === MessageType.Hello) return this.onHello(socket, parseJson<Hello>(body));
    if (socket !== this.primarySocket) {
      socket.destroy();
      return;
    }
    this.lastHeard = Date.now();
    const standby = this.standby!;
    switch (type) {
      case MessageType.ImagePart:
        standby.joining?.parts.push(Buffer.from(body));
        return;
      case MessageType.Image:
        return this.onImage(socket, standby, parseJson<ImageMeta>(body));
      case MessageType.Frame: {
        const index = body.readUInt32LE(0);
        if (index < standby.frames) return; // resent: already held
        if (index > standby.frames || (standby.joining !== undefined && index > 0)) {
          this.options.log(`frame ${index} arrived while ${standby.joining === undefined ? standby.frames : 'the state image'} was expected; connection reset`);
          socket.resetAndDestroy();
          return;
        }
        const bytes = Buffer.from(body.subarray(4));
        const frame = describeFrame(bytes, index === 0);
        if (index === 0 && standby.joining !== undefined) {
          // Joining: the header waits for the image; nothing is acknowledged before it.
          standby.joining.header = bytes;
          return;
        }
        if (index === 0) standby.engine!.startLog(bytes);
        else standby.engine!.feedLog(bytes);
        standby.frames += 1;
        standby.records += BigInt(frame.records);
        if (frame.kind === 'trailer') standby.complete = true;
        this.ack(socket, encodeMessage(MessageType.Ack, encodeAck({ frames: standby.frames, records: standby.records, complete: standby.complete })));
        return;
      }
      case MessageType.Heartbeat:
        socket.write(encodeMessage(MessageType.Heartbeat, Buffer.alloc(0)));
        return;
      case MessageType.Bye:
        this.finish({ kind: 'bye', exitCode: body.readInt32LE(0) });
        return;
    }
  }

  /** The image is whole: the standby starts from it, and the log goes on from meta.fromFrame. */
  private onImage(socket: Socket, standby: Standby, meta: ImageMeta): void {
    const joining = standby.joining;
    if (joining?.header === undefined) {
      this.options.log('a state image arrived before the log\'s header; connection reset');
      socket.resetAndDestroy();
      return;
    }
    this.imageDir ??= mkdtempSync(join(tmpdir(), 'rrkit-backup-images-'));
    const path = join(this.imageDir, `epoch-${standby.epoch}.rrimg`);
    const bytes = Buffer.concat(joining.parts);
    writeFileSync(path, bytes);
    standby.engine!.startLog(joining.header, {
      imagePath: path,
      // Frame 0 is the header: frame N holds chunk N - 1.
      chunk: meta.fromFrame - 1,
      records: BigInt(meta.recordsBefore),
      consoleOffset: meta.consoleOffset,
    });
    standby.joining = undefined;
    standby.image = meta;
    standby.frames = meta.fromFrame;
    standby.records = BigInt(meta.recordsBefore);
    this.options.log(
      `joining primary ${standby.hello.primary} from a state image at checkpoint ${meta.checkpoint} ` +
        `(${meta.counts.map((c, v) => `vcpu ${v} @ ${c}`).join(', ')}), ${bytes.length} bytes; the log from frame ${meta.fromFrame}`,
    );
  }

  private ack(socket: Socket, message: Buffer): void {
    const delay = this.options.ackDelayMs;
    if (delay === undefined) {
      socket.write(message);
      return;
    }
    this.slowAcks.push({ socket, message });
    const next = (): void => {
      const ack = this.slowAcks.shift();
      if (ack === undefined) {
        this.slowAckTimer = undefined;
        return;
      }
      if (!ack.socket.destroyed) ack.socket.write(ack.message);
      this.slowAckTimer = setTimeout(next, delay);
    };
    this.slowAckTimer ??= setTimeout(next, delay);
  }

  private onHello(socket: Socket, hello: Hello): void {
    const refuse = (reason: string): void => {
      this.options.log(`refused primary ${hello.primary}: ${reason}`);
      socket.end(encodeMessage(MessageType.Refuse, Buffer.from(reason)));
    };
    if (hello.imageSha256 !== this.options.imageSha256) {
      return refuse(
        `guest image mismatch: the primary runs sha256 ${hello.imageSha256.slice(0, 16)}…, this backup has ${this.options.guest} ` +
          `(sha256 ${this.options.imageSha256.slice(0, 16)}…)`,
      );
    }
    const disk = diskMismatch(hello.disk, this.options.disk);
    if (disk !== undefined) return refuse(disk);
    const current = this.standby;
    if (current !== undefined && hello.epoch < current.epoch) return refuse(`stale epoch ${hello.epoch}: this backup follows epoch ${current.epoch}`);
    // Joining from an image: whatever it held goes (the primary took it out of the members first).
    if (current === undefined || hello.epoch > current.epoch || hello.image === true) {
      // A new primary's stream: its log starts from reset (docs/replication.md), or from an image.
      current?.engine?.kill();
      if (this.promoted === undefined) current?.nextFrames.close();
      const fresh: Standby = {
        epoch: hello.epoch,
        hello,
        frames: 0,
        records: 0n,
        complete: false,
        nextFrames: new FrameSpool(),
        outputs: [],
        ...(hello.image === true ? { joining: { parts: [] } } : {}),
      };
      // Started now, so that it is warm by the time the log's header arrives.
      fresh.engine = this.startEngine(fresh);
      this.standby = fresh;
      if (hello.image === true) this.options.log(`primary ${hello.primary} (epoch ${hello.epoch}) sends a state image to join from`);
      else if (current !== undefined) this.options.log(`following primary ${hello.primary} (epoch ${hello.epoch}) from the start of its log`);
    }
    this.primarySocket?.destroy();
    this.primarySocket = socket;
    this.lastHeard = Date.now();
    this.told = '';
    // The lease knows this backup by the address its primary reaches it at.
    if (hello.you !== undefined) this.name = hello.you;
    socket.write(encodeMessage(MessageType.Welcome, json({ frames: this.standby!.frames })));
  }

  private startEngine(standby: Standby): EngineProcess {
    const spec: EngineSpec = { role: 'standby', guest: this.options.guest, engine: standby.hello.engine, vcpus: standby.hello.vcpus, disk: this.engineDisk(standby.hello) };
    return new EngineProcess(spec, {
      onLogFrame: (frame) => (this.promoted && this.standby === standby ? this.promoted.onLogFrame(frame) : this.keep(standby, frame)),
      onOutput: (output) => (this.promoted && this.standby === standby ? this.promoted.onOutput(output) : standby.outputs.push(output)),
      onLive: (at) => (this.promoted && this.standby === standby ? this.promoted.onLive(at) : (standby.liveAt = at)),
      onDone: (done) => (this.promoted && this.standby === standby ? this.promoted.onDone(done) : (standby.done = done)),
      onImage: (image) => (this.promoted && this.standby === standby ? this.promoted.onImage(image) : undefined),
    });
  }

  /** Keeps a standby's own log for a takeover: in the spool's file only, as nobody reads it before. */
  private keep(standby: Standby, frame: LogFrame): void {
    if (this.standby !== standby) return; // an engine this backup has left
    standby.nextFrames.append(frame);
    standby.nextFrames.release(standby.nextFrames.length);
  }

  private watch(): void {
    const standby = this.standby;
    if (this.promoted !== undefined || standby === undefined || this.trying) return;
    if (Date.now() - this.lastHeard <= this.options.heartbeatTimeoutMs) return;
    this.trying = true;
    void this.options.leases.tryTakeOver(this.name).then(
      (outcome) => {
        this.trying = false;
        this.onTakeOver(standby, outcome);
      },
      (error: unknown) => {
        this.trying = false;
        this.tell(`primary ${standby.hello.primary} silent; could not try to take over: ${(error as Error).message}`);
      },
    );
  }

  /** Winning is final: the lease's newest epoch is ours, whatever a primary said meanwhile. */
  private onTakeOver(standby: Standby, outcome: TakeOver): void {
    if (outcome.kind === 'held' || this.ended) return;
    if (outcome.kind === 'lost') return this.tell(`primary ${standby.hello.primary} silent; not taking over: ${outcome.reason}`);
    this.promote(standby, outcome.lease);
  }

  /** A line about why this backup does not take over, once per reason. */
  private tell(line: string): void {
    if (this.told !== line) this.options.log(line);
    this.told = line;
  }

  private promote(standby: Standby, lease: HeldLease): void {
    this.options.log(
      `taking over from ${standby.hello.primary} as the primary of epoch ${lease.epoch}: replaying the ${standby.frames} frames received ` +
        `(${standby.records} records${standby.complete ? ', to the trailer' : ''}), then live; its own log so far: ${standby.nextFrames.length} frames`,
    );
    this.primarySocket?.destroy();
    let engine = standby.engine;
    if (standby.frames === 0) {
      engine?.kill();
      // Nothing received: nothing was released either; start the guest from reset.
      engine = new EngineProcess(
        { role: 'record', guest: this.options.guest, engine: standby.hello.engine, vcpus: standby.hello.vcpus, disk: this.engineDisk(standby.hello) },
        {
          onLogFrame: (f) => this.promoted!.onLogFrame(f),
          onOutput: (o) => this.promoted!.onOutput(o),
          onLive: (at) => this.promoted!.onLive(at),
          onDone: (d) => this.promoted!.onDone(d),
          onImage: (i) => this.promoted!.onImage(i),
        },
      );
      standby.engine = engine;
    } else {
      engine!.endLog();
    }
    this.promoted = new Primary(
      {
        name: this.name,
        engineName: standby.hello.engine,
        vcpus: standby.hello.vcpus,
        imageSha256: this.options.imageSha256,
        disk: standby.hello.disk,
        backups: lease.members,
        output: standby.hello.output,
        heartbeatTimeoutMs: this.options.heartbeatTimeoutMs,
        maxLagBytes: standby.hello.maxLagBytes,
        lease,
        log: this.options.log,
        images: standby.hello.engine === 'emu',
        // Restored from an image, its log (the replayed part copied on) lacks what came before.
        logFromReset: standby.image === undefined || standby.frames === 0,
        // A standby's machine goes live once it has replayed what it received (onLive).
        machineLive: standby.frames === 0 || standby.liveAt !== undefined,
      },
      engine!,
      standby.nextFrames,
    );
    this.promoted.start({ outputs: standby.outputs, liveAt: standby.liveAt, done: standby.done });
    void this.promoted.done.then((end) => this.finish(end));
  }

  /** This replica's copy of the disk, logged as the primary logs it (HELLO matched the two at connect). */
  private engineDisk(hello: Hello): EngineSpec['disk'] {
    const own = this.options.disk;
    return own === undefined ? undefined : { path: own.path, shared: hello.disk?.shared ?? own.shared };
  }

  private finish(end: BackupEnd): void {
    this.ended = true;
    clearInterval(this.watchdog);
    clearTimeout(this.slowAckTimer);
    this.server?.close();
    this.primarySocket?.destroy();
    if (this.imageDir !== undefined) rmSync(this.imageDir, { recursive: true, force: true });
    if (end.kind === 'bye') this.standby?.engine?.kill();
    if (this.promoted === undefined) this.standby?.nextFrames.close(); // a promoted backup's primary closes it
    this.resolveEnd(end);
  }
}
