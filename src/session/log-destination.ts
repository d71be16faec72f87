/**
 * Where a recording writes its log without ever destroying a file of the user's.
 *
 * The log is written to `OUT.recording`, next to OUT (so that the rename stays on one file
 * system), created exclusively: a second recording to the same OUT is refused while the
 * first runs, instead of both writing one file. When the recording ends:
 *
 *   - complete (the guest exited, the trailer is written): renamed to OUT. An existing OUT is
 *     replaced only with `force`, atomically (rename), so that OUT is always either the old
 *     file or the whole new log;
 *   - incomplete (a fault, --timeout, SIGINT/SIGTERM, a write error): kept, because an
 *     incomplete log replays as far as it goes. At OUT when nothing is there, else beside it
 *     as `OUT.incomplete` (`OUT.incomplete-2`, ...): an old OUT is never replaced by a
 *     fragment, even with `force`.
 *
 * `-o` may not name a file the recording reads (the guest image, console input, a disk
 * image), nor anything but a regular file. A recording killed outright (SIGKILL, a crash)
 * leaves its log at `OUT.recording`; the next recording to OUT refuses to start until it
 * is moved away, since it is the user's incomplete log.
 */
import { closeSync, constants, fsyncSync, linkSync, lstatSync, openSync, renameSync, statSync, unlinkSync, type Stats } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { printable } from '../files/printable.js';

/** A path `-o` must not name, and what it is ("the guest image", "--input"). */
export interface ReadPath {
  role: string;
  path: string;
}

/** Why a log destination was refused (bad usage: exit status 119). One line. */
export class LogDestinationRefused extends Error {
  override name = 'LogDestinationRefused';
}

/** Where the log ended up, and how. */
export interface LogPlacement {
  path: string;
  /** a complete log replaced an existing file (with force) */
  replaced: boolean;
  /** incomplete, and kept beside OUT because OUT was taken */
  beside: boolean;
}

function statOrUndefined(path: string, follow: boolean): Stats | undefined {
  try {
    return follow ? statSync(path) : lstatSync(path);
  } catch {
    return undefined;
  }
}

function sameFile(a: Stats, b: Stats): boolean {
  return a.dev === b.dev && a.ino === b.ino;
}

export class LogDestination {
  private settled = false;

  private constructor(
    /** where the log goes, absolute */
    readonly path: string,
    /** where it is written while recording */
    readonly partialPath: string,
    private readonly force: boolean,
    private readonly existedAtStart: boolean,
    /** an inherited descriptor (/dev/fd/N: a replica's log goes down a pipe): written as it is, never renamed */
    private readonly descriptor = false,
  ) {}

  /**
   * Checks `-o` and creates the file the recording writes (empty, exclusively); throws
   * LogDestinationRefused. `reads`: the files the recording reads, which `-o` must not name.
   */
  static prepare(out: string, options: { force: boolean; reads: readonly ReadPath[] }): LogDestination {
    // A process that hands rrkit a descriptor (a replica's engine) owns what is behind it.
    if (/^\/dev\/fd\/\d+$/.test(out)) return new LogDestination(out, out, false, false, true);
    const path = resolve(out);
    const shown = `-o ${printable(out)}`;
    const existing = statOrUndefined(path, false);
    if (existing !== undefined) {
      if (existing.isDirectory()) throw new LogDestinationRefused(`${shown}: is a directory; name the log file to write`);
      if (existing.isSymbolicLink()) throw new LogDestinationRefused(`${shown}: is a symbolic link; name the file itself`);
      if (!existing.isFile()) throw new LogDestinationRefused(`${shown}: is not a regular file; rrkit writes logs only to regular files`);
      for (const read of options.reads) {
        const other = statOrUndefined(read.path, true);
        if (other !== undefined && sameFile(existing, other)) {
          throw new LogDestinationRefused(`${shown}: is ${read.role}, which this recording reads; write the log elsewhere`);
        }
      }
      if (!options.force) {
        throw new LogDestinationRefused(
          `${shown}: exists; give --force to replace it (only a complete new log replaces it: a failed or interrupted recording never does)`,
        );
      }
    }
    const partialPath = `${path}.recording`;
    let fd: number;
    try {
      fd = openSync(partialPath, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o644);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') {
        throw new LogDestinationRefused(
          `${shown}: ${printable(partialPath)} exists: another recording to it is running, or one was killed ` +
            `(then that file is its incomplete log: move it away or delete it)`,
        );
      }
      if (code === 'ENOENT') throw new LogDestinationRefused(`${shown}: no such directory: ${printable(dirname(path))}`);
      if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
        throw new LogDestinationRefused(`${shown}: cannot create files in ${printable(dirname(path))} (${code})`);
      }
      throw new LogDestinationRefused(`${shown}: cannot create ${printable(partialPath)} (${code ?? String(error)})`);
    }
    closeSync(fd);
    return new LogDestination(path, partialPath, options.force, existing !== undefined);
  }

  /**
   * The recording ended: puts the log in place (see the top of this file). Undefined when
   * nothing was written (the run failed before it started): then nothing is kept. Call once.
   */
  settle(complete: boolean): LogPlacement | undefined {
    if (this.settled) throw new Error('the log destination is already settled');
    this.settled = true;
    if (this.descriptor) return { path: this.path, replaced: false, beside: false };
    if (statSync(this.partialPath).size === 0) {
      unlinkSync(this.partialPath);
      return undefined;
    }
    syncFile(this.partialPath);
    if (complete && this.force) {
      renameSync(this.partialPath, this.path);
      syncDirectory(this.path);
      return { path: this.path, replaced: this.existedAtStart, beside: false };
    }
    // Never over a file: a complete log without force, or an incomplete one.
    if (!(this.existedAtStart && !complete) && linkWithoutReplacing(this.partialPath, this.path)) {
      return { path: this.path, replaced: false, beside: false };
    }
    if (complete) {
      // OUT appeared while recording (another program wrote it): keep both.
      const beside = this.firstFree(`${this.path}.new`);
      return { path: beside, replaced: false, beside: true };
    }
    return { path: this.firstFree(`${this.path}.incomplete`), replaced: false, beside: true };
  }

  /** Links the partial log to the first of `stem`, `stem-2`, ... that is free. */
  private firstFree(stem: string): string {
    for (let n = 1; n < 1000; n++) {
      const candidate = n === 1 ? stem : `${stem}-${n}`;
      if (linkWithoutReplacing(this.partialPath, candidate)) return candidate;
    }
    return this.partialPath; // a thousand leftovers: leave it where it is
  }

}

/**
 * Gives `from` the name `to` unless `to` exists (link, then unlink: atomic, unlike a check
 * followed by rename). False when `to` exists. File systems without hard links fall back to
 * a check and a rename.
 */
function linkWithoutReplacing(from: string, to: string): boolean {
  try {
    linkSync(from, to);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') throw error;
    if (statOrUndefined(to, false) !== undefined) return false;
    renameSync(from, to);
    syncDirectory(to);
    return true;
  }
  unlinkSync(from);
  syncDirectory(to);
  return true;
}

/** The log's bytes on disk before its name changes, so that a crash cannot leave a renamed empty file. */
function syncFile(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function syncDirectory(path: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dirname(path), 'r');
    fsyncSync(fd);
  } catch {
    // Not every file system lets a directory be synced; the rename itself is done.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
