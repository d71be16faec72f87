/**
 * The disk of a recording (the kvm board's block device), as its log header's
 * configuration describes it: its size (replay must show the guest the same disk) and the
 * SHA-256 of the image (so that a replay that reads its own copy of the disk, after a
 * --disk-shared recording, can refuse a different one).
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';

export interface RecordedDisk {
  /** size in 512-byte sectors */
  sectors: number;
  sha256: string;
  /** as given when recording (absolute) */
  path: string;
  /** recorded with --disk-shared: the log holds where the guest's disk reads came from, not their bytes */
  shared: boolean;
}

/** Size and hash of a disk-image file; one-line errors. */
export async function describeDisk(path: string): Promise<RecordedDisk> {
  let size: number;
  try {
    const info = await stat(path);
    if (!info.isFile()) throw new Error(`--disk ${path}: not a regular file`);
    size = info.size;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new Error(`--disk ${path}: no such file`);
    throw error;
  }
  if (size === 0 || size % 512 !== 0) {
    throw new Error(`--disk ${path}: its size (${size} bytes) is not a positive multiple of 512-byte sectors`);
  }
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return { sectors: size / 512, sha256: hash.digest('hex'), path: resolve(path), shared: false };
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
 * The image a replay of a --disk-shared recording reads: `given` (--disk) or the path in the
 * log, which must be the very image recorded (same SHA-256). One-line errors.
 */
export async function sharedDiskForReplay(recorded: RecordedDisk, given: string | undefined): Promise<string> {
  const path = given ?? recorded.path;
  let actual: RecordedDisk;
  try {
    actual = await describeDisk(path);
  } catch (error) {
    const hint = given === undefined ? ' (the log left the disk\'s bytes out: give the image with --disk)' : '';
    throw new Error(`${(error as Error).message}${hint}`);
  }
  if (actual.sha256 !== recorded.sha256) {
    throw new Error(
      `--disk ${path} is not the disk image this log was recorded with (log: sha256 ${recorded.sha256.slice(0, 16)}…, ` +
        `file: sha256 ${actual.sha256.slice(0, 16)}…)`,
    );
  }
  return path;
}
