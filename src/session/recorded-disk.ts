/**
 * The disk of a recording (the kvm board's block device), as its log header's
 * configuration describes it: its size (replay must show the guest the same disk) and the
 * SHA-256 of the image (so that a replay that reads its own copy of the disk, after a
 * --disk-shared recording, can refuse a different one).
 */
import { createHash } from 'node:crypto';
import { closeSync, readSync } from 'node:fs';
import { resolve } from 'node:path';
import { printable } from '../files/printable.js';
import { openRegularFile } from '../files/regular-file.js';
import { GuestImageError } from '../guests/image.js';

export interface RecordedDisk {
  /** size in 512-byte sectors */
  sectors: number;
  sha256: string;
  /** as given when recording (absolute) */
  path: string;
  /** recorded with --disk-shared: the log holds where the guest's disk reads came from, not their bytes */
  shared: boolean;
}

/**
 * The largest disk image rrkit takes: it hashes the whole image into the log's header when
 * it records, and again when a replay reads its own copy, so a huge (or huge sparse) file
 * would take minutes before anything runs.
 */
export const MAX_DISK_BYTES = 4 * 1024 * 1024 * 1024;

/**
 * Size and hash of a disk-image file: a regular file of at most MAX_DISK_BYTES (FileRefused
 * otherwise) whose size is a whole number of 512-byte sectors (GuestImageError otherwise).
 */
export async function describeDisk(path: string): Promise<RecordedDisk> {
  const { fd, size } = openRegularFile(path, '--disk', MAX_DISK_BYTES, 'rrkit hashes the whole image');
  try {
    if (size === 0 || size % 512 !== 0) {
      throw new GuestImageError(`--disk ${printable(path)}: its size (${size} bytes) is not a positive multiple of 512-byte sectors`);
    }
    const hash = createHash('sha256');
    const piece = Buffer.allocUnsafe(1 << 20);
    for (let at = 0; at < size; ) {
      const got = readSync(fd, piece, 0, Math.min(piece.length, size - at), at);
      if (got === 0) throw new GuestImageError(`--disk ${printable(path)}: it shrank while rrkit read it`);
      hash.update(piece.subarray(0, got));
      at += got;
    }
    return { sectors: size / 512, sha256: hash.digest('hex'), path: resolve(path), shared: false };
  } finally {
    closeSync(fd);
  }
}

/** The disk recorded in a log header's config_json, if any. */
export function recordedDisk(configJson: string): RecordedDisk | undefined {
  let config: unknown;
  try {
    config = JSON.parse(configJson);
  } catch {
    return undefined;
  }
  const disk = (config as { disk?: Partial<RecordedDisk> } | null)?.disk;
  if (disk === undefined || typeof disk.sectors !== 'number' || typeof disk.sha256 !== 'string') return undefined;
  return { sectors: disk.sectors, sha256: disk.sha256, path: typeof disk.path === 'string' ? disk.path : '', shared: disk.shared === true };
}

/**
 * The image a replay of a --disk-shared recording reads (or a replay that goes on live,
 * reading the disk from there on: `why` says which): `given` (--disk) or the path in the
 * log, which must be the very image recorded (same SHA-256). One-line errors.
 */
export async function sharedDiskForReplay(
  recorded: RecordedDisk,
  given: string | undefined,
  why = "the log left the disk's bytes out",
): Promise<string> {
  const path = given ?? recorded.path;
  let actual: RecordedDisk;
  try {
    actual = await describeDisk(path);
  } catch (error) {
    if (given !== undefined || !(error instanceof Error)) throw error;
    // Same kind (a missing file is still bad usage), with what to do.
    (error as { message: string }).message += ` (${why}: give the image with --disk)`;
    throw error;
  }
  if (actual.sha256 !== recorded.sha256) {
    throw new GuestImageError(
      `--disk ${printable(path)} is not the disk image this log was recorded with (log: sha256 ${recorded.sha256.slice(0, 16)}…, ` +
        `file: sha256 ${actual.sha256.slice(0, 16)}…)`,
    );
  }
  return path;
}
