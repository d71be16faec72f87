/**
 * The host's end of the sandbox console: a Unix socket that QEMU connects its first serial
 * port to. Each line goes to console.log and to an optional watcher; /init's markers
 * (console-protocol.ts) move the current step along, with its time since the start.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { parseConsoleLine, type SandboxStep } from './console-protocol.js';
import { SandboxError } from './sandbox-error.js';

const TAIL_LINES = 40;

export class ConsoleFollower {
  /** Where the run is: 'qemu' until QEMU connects, 'boot' until /init's first step, then /init's steps. */
  step: SandboxStep = 'qemu';
  status: number | undefined;
  failure: { step: SandboxStep; message: string } | undefined;
  readonly stepTimesMs: Partial<Record<SandboxStep, number>> = {};
  readonly tail: string[] = [];
  private readonly log: WriteStream;
  private readonly server: Server;
  private readonly sockets: Socket[] = [];
  private readonly started = performance.now();

  private constructor(
    readonly logPath: string,
    private readonly watch: (line: string) => void,
  ) {
    this.log = createWriteStream(logPath);
    this.server = createServer((socket) => this.follow(socket));
  }

  /** Listens on `socketPath` before QEMU starts, so that QEMU's connection finds it. */
  static async listen(socketPath: string, logPath: string, watch: (line: string) => void): Promise<ConsoleFollower> {
    const follower = new ConsoleFollower(logPath, watch);
    await new Promise<void>((listening, failed) =>
      follower.server
        .once('error', (error) => {
          follower.log.end();
          failed(new SandboxError('qemu', `cannot listen on the console socket ${socketPath}: ${error.message}`));
        })
        .listen(socketPath, listening),
    );
    return follower;
  }

  get elapsedMs(): number {
    return Math.round(performance.now() - this.started);
  }

  /** Resolves once QEMU's end of every connection has closed, so that no last line is missed. */
  async drained(): Promise<void> {
    await Promise.all(this.sockets.map((s) => new Promise((closed) => (s.closed ? closed(null) : s.once('close', closed)))));
  }

  close(): void {
    this.sockets.forEach((socket) => socket.destroy());
    this.server.close();
    this.log.end();
  }

  /** The kernel's own word on why it stopped, if the last lines have one. */
  kernelPanic(): string | undefined {
    return this.tail.find((line) => /Kernel panic|Oops|BUG:/.test(line))?.trim();
  }

  private follow(socket: Socket): void {
    this.sockets.push(socket);
    if (this.step === 'qemu') this.step = 'boot';
    let pending = '';
    socket.setEncoding('utf8').on('data', (text: string) => {
      const lines = (pending + text).split('\n');
      pending = lines.pop() ?? '';
      lines.forEach((line) => this.line(line.replace(/\r$/, '')));
    });
    socket.on('end', () => pending && this.line(pending));
  }

  private line(line: string): void {
    this.log.write(`${line}\n`);
    this.tail.push(line);
    if (this.tail.length > TAIL_LINES) this.tail.shift();
    this.watch(line);
    const event = parseConsoleLine(line);
    if (event?.kind === 'step') {
      this.step = event.step;
      this.stepTimesMs[event.step] = this.elapsedMs;
    } else if (event?.kind === 'failed') this.failure = event;
    else if (event?.kind === 'status') this.status = event.status;
  }
}
