/**
 * The log a replica ships, kept in a file instead of in memory (docs/replication.md, "The
 * log on disk"). A primary must be able to send any frame again — to a backup that
 * reconnects, or restarts and follows from the log's start — so it keeps them all; a run
 * of hours would otherwise hold its whole log in memory. Every frame is written to the file
 * as it arrives, and its bytes stay in memory only until `release` says no backup is likely
 * to ask for it soon (the primary releases what every member acknowledged, so memory holds
 * about the flow control's bound); an older frame is read back from the file when asked for.
 */
import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { LogFrame, LogFrameKind } from './log-frames.js';

interface SpooledFrame {
  kind: LogFrameKind;
  records: number;
  offset: number;
  length: number;
  /** the frame's bytes while it is held in memory */
  bytes?: Buffer;
}

export class FrameSpool {
  private fd: number | undefined;
  private readonly frames: SpooledFrame[] = [];
  private fileBytes = 0;
  private memory = 0;
  private peakMemory = 0;
  /** frames below this index hold no bytes in memory */
  private releasedBelow = 0;

  constructor() {
    // The file is deleted at once and lives on through its descriptor: whichever way the
    // process ends, even SIGKILLed (as failover drills end primaries), it leaves nothing behind.
    const dir = mkdtempSync(join(tmpdir(), 'rrkit-log-spool-'));
    try {
      this.fd = openSync(join(dir, 'log'), 'w+');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  /** Writes a frame to the file, and keeps its bytes in memory until released. */
  append(frame: LogFrame): void {
    const fd = this.openFd();
    for (let written = 0; written < frame.bytes.length; ) {
      written += writeSync(fd, frame.bytes, written, frame.bytes.length - written, this.fileBytes + written);
    }
    this.frames.push({ kind: frame.kind, records: frame.records, offset: this.fileBytes, length: frame.bytes.length, bytes: frame.bytes });
    this.fileBytes += frame.bytes.length;
    this.memory += frame.bytes.length;
    this.peakMemory = Math.max(this.peakMemory, this.memory);
  }

  get length(): number {
    return this.frames.length;
  }

  /** The last frame's kind (a complete log ends with its trailer). */
  get lastKind(): LogFrameKind | undefined {
    return this.frames.at(-1)?.kind;
  }

  /** Frame `index`'s kind, records and length, without its bytes. */
  describe(index: number): { kind: LogFrameKind; records: number; length: number } {
    const frame = this.entry(index);
    return { kind: frame.kind, records: frame.records, length: frame.length };
  }

  /** Frame `index`, from memory or read back from the file. */
  at(index: number): LogFrame {
    const frame = this.entry(index);
    if (frame.bytes !== undefined) return { kind: frame.kind, records: frame.records, bytes: frame.bytes };
    const bytes = Buffer.alloc(frame.length);
    const fd = this.openFd();
    for (let read = 0; read < frame.length; ) {
      const n = readSync(fd, bytes, read, frame.length - read, frame.offset + read);
      if (n === 0) throw new Error(`the log spool's file ends inside frame ${index}`);
      read += n;
    }
    return { kind: frame.kind, records: frame.records, bytes };
  }

  /** Frees the memory of every frame below `below`; they are read from the file from now on. */
  release(below: number): void {
    const end = Math.min(below, this.frames.length);
    for (; this.releasedBelow < end; ++this.releasedBelow) {
      const frame = this.frames[this.releasedBelow]!;
      if (frame.bytes === undefined) continue;
      this.memory -= frame.length;
      frame.bytes = undefined;
    }
  }

  /** Bytes of frames held in memory now, and at most so far. */
  get memoryBytes(): { now: number; peak: number } {
    return { now: this.memory, peak: this.peakMemory };
  }

  /** Closes the file (which frees its space); the spool is unusable after. */
  close(): void {
    if (this.fd === undefined) return;
    closeSync(this.fd);
    this.fd = undefined;
  }

  private entry(index: number): SpooledFrame {
    const frame = this.frames[index];
    if (frame === undefined) throw new RangeError(`log frame ${index} is not in the spool (${this.frames.length} frames)`);
    return frame;
  }

  private openFd(): number {
    if (this.fd === undefined) throw new Error('the log spool was closed');
    return this.fd;
  }
}
