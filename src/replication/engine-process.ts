/**
 * A replica's engine: the guest's machine in a child process of its own, so that a backup
 * can drop a replay and start afresh, and so that the machine dies with its replica. The
 * child (engine-main.ts) talks through its descriptors:
 *
 *   0  the log to replay, as it arrives (standby; closing it makes the replay go live)
 *   1  the console, tagged with log positions (engine-output.ts)
 *   2  rrkit's messages (inherited)
 *   3  the log it writes: the recording, or the next log of a replay going live
 *   4  console input for the live machine
 *   5  IPC: {kind:'live', at} when a standby goes live, {kind:'image', ...} when it wrote a
 *      state image asked for by {kind:'image', path} (emu), {kind:'done', ...} at the end
 *
 * and exits when its parent goes (the IPC channel closes).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { basename, join } from 'node:path';
import { REPO_ROOT } from '../guests/catalog.js';
import type { Readable, Writable } from 'node:stream';
import { TaggedOutputReader, type TaggedOutput } from './engine-output.js';
import { LogFrameSplitter, type LogFrame } from './log-frames.js';

export type EngineRole = 'record' | 'standby';

export interface EngineSpec {
  role: EngineRole;
  guest: string;
  engine: string;
  vcpus: number;
  /** the guest's disk image (kvm): its path here, and whether the log leaves the disk's bytes out */
  disk?: { path: string; shared: boolean };
}

/** A state image the engine wrote (counts as decimal strings: IPC carries JSON). */
export type ImageWritten =
  | { kind: 'image'; path: string; records: string; checkpoint: number; consoleOffset: string; counts: string[]; error?: undefined }
  | { kind: 'image'; path: string; error: string };

/** What the child reports over IPC. */
export type EngineEvent =
  | { kind: 'live'; at: number }
  | ImageWritten
  | { kind: 'done'; exitCode: number; outcome: string; detail: string };

/** A standby that starts from a state image: the image's file, and where in the log the stream it gets begins. */
export interface StandbyResume {
  imagePath: string;
  /** the first chunk the stream holds after the header, and the records of the chunks before it */
  chunk: number;
  records: bigint;
  /** where the restored machine's console output starts in the guest's console stream */
  consoleOffset: number;
}

export interface EngineHandlers {
  onLogFrame(frame: LogFrame): void;
  onOutput(output: TaggedOutput): void;
  onLive(at: number): void;
  onDone(done: Extract<EngineEvent, { kind: 'done' }>): void;
  /** a state image asked for with requestImage was written (or failed) */
  onImage?(image: ImageWritten): void;
}

/** The command line that runs rrkit itself: the script this process runs, or (a test, a script) the checkout's bin/rrkit. */
export function rrkitCommand(): { command: string; args: string[] } {
  const script = process.argv[1] ?? '';
  if (basename(script) === 'rrkit' || basename(script) === 'rrkit.mjs') return { command: process.execPath, args: [script] };
  return { command: process.execPath, args: [join(REPO_ROOT, 'bin', 'rrkit')] };
}

export class EngineProcess {
  readonly child: ChildProcess;
  private finished = false;
  private readonly logIn: Writable | null;
  private readonly logOut: Readable;
  private readonly output: TaggedOutputReader;

  constructor(spec: EngineSpec, handlers: EngineHandlers) {
    const { command, args } = rrkitCommand();
    const engineArgs = ['replica', 'engine', '--role', spec.role, '--engine', spec.engine, '--vcpus', String(spec.vcpus)];
    if (spec.disk !== undefined) engineArgs.push('--disk', spec.disk.path, ...(spec.disk.shared ? ['--disk-shared'] : []));
    engineArgs.push(spec.guest);
    this.child = spawn(command, [...args, ...engineArgs], {
      stdio: [spec.role === 'standby' ? 'pipe' : 'ignore', 'pipe', 'inherit', 'pipe', 'pipe', 'ipc'],
    });
    this.logIn = spec.role === 'standby' ? this.child.stdin : null;
    this.logIn?.on('error', () => {}); // the child gone: its exit says so
    const frames = new LogFrameSplitter((frame) => handlers.onLogFrame(frame));
    this.logOut = this.child.stdio[3] as Readable;
    this.logOut.on('data', (bytes: Buffer) => frames.push(bytes));
    const output = new TaggedOutputReader((o) => handlers.onOutput(o));
    this.output = output;
    this.child.stdout!.on('data', (bytes: Buffer) => output.push(bytes));
    (this.child.stdio[4] as Writable).on('error', () => {});
    // 'done' is reported once the child has exited and its descriptors are drained: the
    // last output and the log's trailer may still be in the pipes when its IPC message comes.
    let reported: Extract<EngineEvent, { kind: 'done' }> | undefined;
    this.child.on('message', (message: EngineEvent) => {
      if (message.kind === 'live') handlers.onLive(message.at);
      if (message.kind === 'image') handlers.onImage?.(message);
      if (message.kind === 'done') reported = message;
    });
    this.child.on('close', (code, signal) => {
      if (this.finished) return;
      this.finished = true;
      handlers.onDone(
        reported ?? { kind: 'done', exitCode: code ?? 1, outcome: 'engine-died', detail: `the engine process ended (${signal ?? `exit ${code}`}) without a result` },
      );
    });
  }

  /**
   * Standby: the log's header frame, which the child needs before it reads the stream (it
   * starts, warm, before the header exists), then the header goes down the stream too.
   */
  startLog(header: Buffer, resume?: StandbyResume): void {
    if (resume !== undefined) this.output.startAt(resume.consoleOffset);
    const from = resume === undefined ? undefined : { imagePath: resume.imagePath, chunk: resume.chunk, records: String(resume.records) };
    this.child.send({ kind: 'header', hex: header.toString('hex'), ...(from === undefined ? {} : { resume: from }) });
    this.feedLog(header);
  }

  /** emu: ask the machine for a state image at its next cut, written to `path` (handlers.onImage says when). */
  requestImage(path: string): void {
    if (this.child.connected) this.child.send({ kind: 'image', path });
  }

  /** Standby: the next bytes of the log. */
  feedLog(frame: Buffer): void {
    this.logIn?.write(frame);
  }

  /** Standby: the log ends here; the replay goes live when it reaches this point. */
  endLog(): void {
    this.logIn?.end();
  }

  /**
   * Stop reading the log the machine writes: its pipe fills, then its writer's small queue
   * (ENGINE_LOG_QUEUE_BYTES), and then the guest waits (flow control: a backup too far behind).
   */
  pauseLog(): void {
    this.logOut.pause();
  }

  resumeLog(): void {
    this.logOut.resume();
  }

  /** Console input for the live machine (logged by it). */
  input(bytes: Buffer): void {
    (this.child.stdio[4] as Writable).write(bytes);
  }

  kill(): void {
    this.finished = true;
    this.child.kill('SIGKILL');
  }
}
