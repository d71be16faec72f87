/**
 * A writer for the cpio "newc" archives that Linux unpacks as its initramfs
 * (Documentation/driver-api/early-userspace/buffer-format.rst): each entry is a 110-byte
 * ASCII header of hex fields, the NUL-terminated name and the data, both padded to 4 bytes,
 * and the archive ends with an entry named TRAILER!!!. Written here rather than with the
 * cpio tool so that the initramfs is built in-process from a list and tested without files.
 */

export type CpioEntry =
  | { kind: 'dir'; path: string; mode?: number }
  | { kind: 'file'; path: string; data: Buffer; mode?: number }
  | { kind: 'chardev'; path: string; major: number; minor: number; mode?: number };

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFCHR = 0o020000;
const HEADER_BYTES = 110;
const TRAILER = 'TRAILER!!!';

function hex8(value: number): string {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new RangeError(`cpio header field out of range: ${value}`);
  }
  return value.toString(16).padStart(8, '0');
}

function padding(length: number): Buffer {
  return Buffer.alloc((4 - (length % 4)) % 4);
}

function entryBytes(ino: number, path: string, mode: number, data: Buffer, major = 0, minor = 0): Buffer[] {
  if (path.startsWith('/') || path.length === 0) throw new RangeError(`cpio paths are relative and non-empty: '${path}'`);
  const name = Buffer.from(`${path}\0`);
  const fields = [
    '070701',
    hex8(ino),
    hex8(mode),
    hex8(0), // uid
    hex8(0), // gid
    hex8((mode & 0o170000) === S_IFDIR ? 2 : 1), // nlink
    hex8(0), // mtime: fixed, so that the same inputs give the same bytes
    hex8(data.length),
    hex8(0), // devmajor
    hex8(0), // devminor
    hex8(major), // rdevmajor
    hex8(minor), // rdevminor
    hex8(name.length),
    hex8(0), // check
  ];
  const header = Buffer.from(fields.join(''), 'ascii');
  return [header, name, padding(HEADER_BYTES + name.length), data, padding(data.length)];
}

/** The archive's bytes, entries in the order given (a directory must precede what it holds). */
export function cpioArchive(entries: readonly CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  entries.forEach((entry, index) => {
    const ino = index + 1;
    switch (entry.kind) {
      case 'dir':
        parts.push(...entryBytes(ino, entry.path, S_IFDIR | (entry.mode ?? 0o755), Buffer.alloc(0)));
        break;
      case 'file':
        parts.push(...entryBytes(ino, entry.path, S_IFREG | (entry.mode ?? 0o644), entry.data));
        break;
      case 'chardev':
        parts.push(...entryBytes(ino, entry.path, S_IFCHR | (entry.mode ?? 0o600), Buffer.alloc(0), entry.major, entry.minor));
        break;
    }
  });
  parts.push(...entryBytes(0, TRAILER, 0, Buffer.alloc(0)));
  return Buffer.concat(parts);
}
