/**
 * A guest image, read once: the bytes an engine runs, their SHA-256 (what a log's header
 * records) and the ELF machine type (which engine runs it). Hashing and running the same
 * bytes is what lets a log's header vouch for the image that ran.
 */
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import { readRegularFile } from '../files/regular-file.js';

/** ELF e_machine values of the guests rrkit runs. */
export const ELF_MACHINE_RISCV = 243;
export const ELF_MACHINE_X86_64 = 62;

/**
 * The largest guest image rrkit reads. An image's loadable segments must fit in guest RAM
 * (128 MiB by default, 4 GiB at most), and what a linker adds beyond them (symbols, debug
 * sections) is a fraction of that; a larger file is not a guest image, and reading it whole
 * (rrkit hashes and loads the whole file) would only exhaust memory.
 */
export const MAX_GUEST_IMAGE_BYTES = 512 * 1024 * 1024;

/** A guest image an engine will not run, or not the one a log was recorded from. One line. */
export class GuestImageError extends Error {
  override name = 'GuestImageError';
}

export interface GuestImage {
  /** absolute path, as recorded in a log's header */
  readonly path: string;
  readonly bytes: Buffer;
  /** SHA-256 of `bytes` */
  readonly sha256: Buffer;
  /** the ELF header's e_machine, or undefined when the file is not an ELF */
  readonly elfMachine: number | undefined;
}

export function sha256Of(bytes: Uint8Array): Buffer {
  return createHash('sha256').update(bytes).digest();
}

/** e_machine of an ELF file (16 bits at offset 18, in the file's byte order); undefined for anything else. */
export function elfMachineOf(bytes: Uint8Array): number | undefined {
  const isElf = bytes.length >= 20 && bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c && bytes[3] === 0x46;
  if (!isElf) return undefined;
  const bigEndian = bytes[5] === 2;
  return bigEndian ? (bytes[18]! << 8) | bytes[19]! : bytes[18]! | (bytes[19]! << 8);
}

/** The image from bytes already read. */
export function guestImageOf(path: string, bytes: Buffer): GuestImage {
  return { path: resolve(path), bytes, sha256: sha256Of(bytes), elfMachine: elfMachineOf(bytes) };
}

/**
 * Reads the image at `path`: a regular file of at most MAX_GUEST_IMAGE_BYTES, else a
 * one-line FileRefused naming it (a FIFO, /dev/zero, a directory or a huge file is refused
 * before anything is read).
 */
export async function readGuestImage(path: string): Promise<GuestImage> {
  const bytes = readRegularFile(path, 'guest image', MAX_GUEST_IMAGE_BYTES, 'its loadable segments must fit in guest RAM');
  return guestImageOf(path, bytes);
}

/** `elf` as an image: read when it is a path, as it is when already read. */
export async function guestImage(elf: string | GuestImage): Promise<GuestImage> {
  return typeof elf === 'string' ? readGuestImage(elf) : elf;
}
