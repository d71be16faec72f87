import { describe, expect, it } from 'vitest';
import { cpioArchive } from './cpio.js';

/** Reads a newc archive back, independently of the writer: name, mode, rdev and data of each entry. */
function readNewc(archive: Buffer) {
  const entries: { name: string; mode: number; rdev: [number, number]; data: string }[] = [];
  let at = 0;
  const align = (n: number) => (n + 3) & ~3;
  for (;;) {
    expect(archive.toString('ascii', at, at + 6)).toBe('070701');
    const field = (i: number) => parseInt(archive.toString('ascii', at + 6 + i * 8, at + 14 + i * 8), 16);
    const [mode, size, rdevMajor, rdevMinor, nameSize] = [field(1), field(6), field(9), field(10), field(11)];
    const name = archive.toString('ascii', at + 110, at + 110 + nameSize - 1);
    const dataAt = align(at + 110 + nameSize);
    if (name === 'TRAILER!!!') return { entries, end: dataAt };
    entries.push({ name, mode, rdev: [rdevMajor, rdevMinor], data: archive.toString('latin1', dataAt, dataAt + size) });
    at = align(dataAt + size);
  }
}

describe('cpio newc writer', () => {
  it('writes directories, files and device nodes that read back, padded to 4 bytes, with a trailer', () => {
    const archive = cpioArchive([
      { kind: 'dir', path: 'bin' },
      { kind: 'chardev', path: 'dev/console', major: 5, minor: 1 },
      { kind: 'file', path: 'init', data: Buffer.from('#!/bin/sh\n'), mode: 0o755 },
      { kind: 'file', path: 'bin/odd', data: Buffer.from('abcde') },
    ]);
    const { entries, end } = readNewc(archive);
    expect(end).toBe(archive.length);
    expect(archive.length % 4).toBe(0);
    expect(entries).toEqual([
      { name: 'bin', mode: 0o040755, rdev: [0, 0], data: '' },
      { name: 'dev/console', mode: 0o020600, rdev: [5, 1], data: '' },
      { name: 'init', mode: 0o100755, rdev: [0, 0], data: '#!/bin/sh\n' },
      { name: 'bin/odd', mode: 0o100644, rdev: [0, 0], data: 'abcde' },
    ]);
  });

  it('gives the same bytes for the same entries (no timestamps)', () => {
    const entries = [{ kind: 'file' as const, path: 'a', data: Buffer.from('x') }];
    expect(cpioArchive(entries).equals(cpioArchive(entries))).toBe(true);
  });

  it('refuses absolute and empty paths', () => {
    expect(() => cpioArchive([{ kind: 'dir', path: '/bin' }])).toThrow(/relative/);
    expect(() => cpioArchive([{ kind: 'dir', path: '' }])).toThrow(/relative/);
  });
});
