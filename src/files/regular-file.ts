/**
 * What rrkit checks before it reads a file someone named (a guest image, a log, console
 * input, a disk image): that it is a regular file, and no larger than what the format it
 * holds can need. Reading /dev/zero, /dev/urandom or a huge sparse file would otherwise fill
 * memory, and a FIFO would block forever waiting for a writer. The file is opened without
 * blocking (O_NONBLOCK: a FIFO does not wait for a writer) and checked with fstat on the
 * open descriptor, so that what was checked is what is read.
 */
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { printable } from './printable.js';

/** Why a file was refused; `path` is as the caller gave it. The message is one line. */
export class FileRefused extends Error {
  override name = 'FileRefused';
  constructor(
    readonly code: 'missing' | 'unreadable' | 'not-regular' | 'too-large',
    readonly path: string,
    message: string,
  ) {
    super(message);
  }
}

export interface RegularFile {
  fd: number;
  size: number;
}

const KIND_OF_SPECIAL: readonly [(stats: import('node:fs').Stats) => boolean, string][] = [
  [(s) => s.isDirectory(), 'a directory'],
  [(s) => s.isFIFO(), 'a FIFO (named pipe)'],
  [(s) => s.isCharacterDevice(), 'a character device'],
  [(s) => s.isBlockDevice(), 'a block device'],
  [(s) => s.isSocket(), 'a socket'],
];

/** A size for messages: bytes, and KiB..TiB when that helps. */
export function describeBytes(bytes: number): string {
  const units = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let value = bytes;
  let unit = '';
  for (const next of units) {
    if (value < 1024) break;
    value /= 1024;
    unit = next;
  }
  return unit === '' ? `${bytes} bytes` : `${bytes} bytes (${value.toFixed(value < 10 ? 1 : 0)} ${unit})`;
}

/**
 * Opens `path` for reading and checks it: a regular file of at most `maxBytes` bytes
 * (`why` says where that limit comes from, for the message). `what` names the file's role
 * in messages ("guest image", "log", "--input"). The caller closes the descriptor.
 */
export function openRegularFile(path: string, what: string, maxBytes = Number.MAX_SAFE_INTEGER, why = ''): RegularFile {
  const shown = `${what} ${printable(path)}`;
  let fd: number;
  try {
    // O_NONBLOCK: opening a FIFO must not wait for a writer; it has no effect on reading a regular file.
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new FileRefused('missing', path, `${shown}: no such file`);
    if (code === 'ENOTDIR') throw new FileRefused('missing', path, `${shown}: no such file (a part of the path is not a directory)`);
    if (code === 'EACCES' || code === 'EPERM') throw new FileRefused('unreadable', path, `${shown}: permission denied`);
    if (code === 'ENXIO') throw new FileRefused('not-regular', path, `${shown}: not a regular file (a socket or a device that cannot be opened)`);
    throw new FileRefused('unreadable', path, `${shown}: cannot open (${code ?? String(error)})`);
  }
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile()) {
      const kind = KIND_OF_SPECIAL.find(([is]) => is(stats))?.[1] ?? 'not a regular file';
      throw new FileRefused('not-regular', path, `${shown}: is ${kind}, not a regular file`);
    }
    if (stats.size > maxBytes) {
      throw new FileRefused(
        'too-large',
        path,
        `${shown}: ${describeBytes(stats.size)}, more than the ${describeBytes(maxBytes)} a ${what} can be${why ? ` (${why})` : ''}`,
      );
    }
    return { fd, size: stats.size };
  } catch (error) {
    closeSync(fd);
    throw error;
  }
}

/** The whole of a checked regular file (see openRegularFile); at most `maxBytes`, and no more than it had when opened. */
export function readRegularFile(path: string, what: string, maxBytes: number, why = ''): Buffer {
  const { fd, size } = openRegularFile(path, what, maxBytes, why);
  try {
    const bytes = Buffer.allocUnsafe(size);
    let done = 0;
    while (done < size) {
      let got: number;
      try {
        got = readSync(fd, bytes, done, size - done, done);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        throw new FileRefused('unreadable', path, `${what} ${printable(path)}: cannot read (${code ?? String(error)})`);
      }
      if (got === 0) break; // it shrank while we read: what there is
      done += got;
    }
    return bytes.subarray(0, done);
  } finally {
    closeSync(fd);
  }
}

/** The first `length` bytes of a checked regular file (fewer when it is shorter). */
export function readRegularFilePrefix(path: string, what: string, length: number): Buffer {
  const { fd, size } = openRegularFile(path, what);
  try {
    const bytes = Buffer.allocUnsafe(Math.min(size, length));
    let done = 0;
    while (done < bytes.length) {
      const got = readSync(fd, bytes, done, bytes.length - done, done);
      if (got === 0) break;
      done += got;
    }
    return bytes.subarray(0, done);
  } catch (error) {
    if (error instanceof FileRefused) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    throw new FileRefused('unreadable', path, `${what} ${printable(path)}: cannot read (${code ?? String(error)})`);
  } finally {
    closeSync(fd);
  }
}
