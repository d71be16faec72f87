/**
 * The disk image a replicated guest reads (the kvm board's block device). Every replica
 * holds its own copy, which must be the same image: its SHA-256 travels in HELLO and a
 * backup refuses a primary whose disk differs, as it refuses another guest image. With
 * `shared` (--disk-shared) the log names where each read came from instead of carrying its
 * bytes, and a backup reads them from its own copy (VMware FT's backups read their own disk).
 */
import { printable } from '../files/printable.js';
import { describeDisk } from '../session/recorded-disk.js';

export interface ReplicaDisk {
  path: string;
  sha256: string;
  shared: boolean;
}

/** What HELLO says of the primary's disk. */
export interface HelloDisk {
  sha256: string;
  shared: boolean;
}

/** The disk at `path` (hashed whole, checked as `record --disk` checks it), or none. */
export async function replicaDisk(path: string | undefined, shared: boolean): Promise<ReplicaDisk | undefined> {
  if (path === undefined) return undefined;
  const described = await describeDisk(path);
  return { path: described.path, sha256: described.sha256, shared };
}

/** HELLO's view of a replica's disk. */
export function helloDisk(disk: ReplicaDisk | undefined): HelloDisk | undefined {
  return disk === undefined ? undefined : { sha256: disk.sha256, shared: disk.shared };
}

/** Why a backup holding `own` cannot follow a primary whose HELLO names `primary`; undefined when they match. */
export function diskMismatch(primary: HelloDisk | undefined, own: ReplicaDisk | undefined): string | undefined {
  const short = (sha256: string): string => `sha256 ${sha256.slice(0, 16)}…`;
  if (primary === undefined && own === undefined) return undefined;
  if (primary === undefined) return `disk image mismatch: the primary runs without a disk, this backup has ${printable(own!.path)}`;
  if (own === undefined) return `disk image mismatch: the primary runs with a disk (${short(primary.sha256)}), this backup has none (--disk)`;
  if (primary.sha256 !== own.sha256) {
    return `disk image mismatch: the primary's disk is ${short(primary.sha256)}, this backup has ${printable(own.path)} (${short(own.sha256)})`;
  }
  return undefined;
}
