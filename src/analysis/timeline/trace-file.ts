/**
 * Writes a trace to a file as it is produced, so that a timeline of a multi-GB log needs
 * no more memory than one buffer: `{"traceEvents":[` then each event, then the closing
 * fields. TraceFile is the JSON file that Perfetto and chrome://tracing open; the HTML page
 * (timeline-html.ts) embeds the same JSON in a script element.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import type { TraceEvent, TraceSink } from './trace-event.js';

const FLUSH_BYTES = 1 << 20;

/** Appends text to a file through a buffer of about FLUSH_BYTES. */
export class BufferedFile {
  private readonly fd: number;
  private pending: string[] = [];
  private pendingBytes = 0;
  private closed = false;
  bytes = 0;

  constructor(readonly path: string) {
    try {
      this.fd = openSync(path, 'w');
    } catch (error) {
      throw new Error(`cannot write ${path}: ${(error as Error).message}`);
    }
  }

  write(text: string): void {
    this.pending.push(text);
    this.pendingBytes += text.length;
    if (this.pendingBytes >= FLUSH_BYTES) this.flush();
  }

  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    closeSync(this.fd);
  }

  /** Closes the file without writing what is pending (the caller removes it). */
  abort(): void {
    if (this.closed) return;
    this.closed = true;
    this.pending = [];
    closeSync(this.fd);
  }

  private flush(): void {
    if (this.pending.length === 0) return;
    const chunk = Buffer.from(this.pending.join(''), 'utf8');
    this.pending = [];
    this.pendingBytes = 0;
    for (let at = 0; at < chunk.length; ) at += writeSync(this.fd, chunk, at);
    this.bytes += chunk.length;
  }
}

/** A trace sink that serialises each event as it comes; finish() closes the JSON (and the file). */
export interface TraceOutput extends TraceSink {
  readonly events: number;
  finish(otherData: object): void;
  /** Stops writing (the file is incomplete; the caller removes it). */
  abort(): void;
}

/** The trace-event JSON object format: `{"traceEvents": [...], "displayTimeUnit": ..., "otherData": {...}}`. */
export class TraceFile implements TraceOutput {
  events = 0;
  private readonly file: BufferedFile;

  /** `escape`: rewrite each serialised piece (the HTML page escapes '<'). */
  constructor(
    target: string | BufferedFile,
    private readonly escape?: (json: string) => string,
  ) {
    this.file = typeof target === 'string' ? new BufferedFile(target) : target;
    this.file.write('{"traceEvents":[\n');
  }

  add(event: TraceEvent): void {
    const json = JSON.stringify(event);
    this.file.write(this.events === 0 ? '' : ',\n');
    this.file.write(this.escape === undefined ? json : this.escape(json));
    this.events++;
  }

  abort(): void {
    this.file.abort();
  }

  /** Closes the JSON object; closes the file too when this TraceFile opened it. */
  finish(otherData: object, close = true): void {
    const json = JSON.stringify(otherData);
    this.file.write(`\n],"otherData":${this.escape === undefined ? json : this.escape(json)}}`);
    if (close) this.file.close();
  }
}
