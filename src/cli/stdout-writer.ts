/**
 * Writes large output to stdout in pieces and waits for each piece to be taken, so that
 * memory stays at one piece whatever the output's size. process.stdout queues without
 * limit when stdout is a pipe (a 200 MB dump into a slow reader is 200 MB queued); this
 * writes with writeSync, retrying while a non-blocking pipe is full. A reader that closes
 * the pipe early (`| head`) ends the command quietly, as Node's EPIPE handler in main.ts does.
 */
import { writeSync } from 'node:fs';

const PIECE_BYTES = 1 << 20;
const pause = new Int32Array(new SharedArrayBuffer(4));

export class StdoutWriter {
  private parts: string[] = [];
  private size = 0;

  write(text: string): void {
    this.parts.push(text);
    this.size += text.length;
    if (this.size >= PIECE_BYTES) this.flush();
  }

  flush(): void {
    if (this.size === 0) return;
    const bytes = Buffer.from(this.parts.join(''), 'utf8');
    this.parts = [];
    this.size = 0;
    let done = 0;
    while (done < bytes.length) {
      try {
        done += writeSync(1, bytes, done);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'EAGAIN') {
          Atomics.wait(pause, 0, 0, 1); // the pipe is full: wait for the reader
          continue;
        }
        if (code === 'EPIPE') process.exit(process.exitCode ?? 0);
        throw error;
      }
    }
  }
}
