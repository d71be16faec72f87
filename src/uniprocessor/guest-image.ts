/**
 * The guest image a log was recorded from: its SHA-256 goes into the log header, and a
 * replay refuses an image whose hash differs (replaying a different program would only
 * diverge later, further from the cause).
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';

export async function readGuestImage(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new Error(code === 'ENOENT' ? `${path}: no such file` : `${path}: cannot read (${code ?? String(error)})`);
  }
}

export function imageHash(image: Uint8Array): Buffer {
  return createHash('sha256').update(image).digest();
}

/** Throws a one-line error when `image` is not the one the log was recorded from. */
export function checkImageMatchesLog(image: Uint8Array, imagePath: string, loggedHashHex: string): void {
  const actual = imageHash(image).toString('hex');
  if (actual !== loggedHashHex) {
    throw new Error(
      `${imagePath} is not the guest image this log was recorded from (log: sha256 ${loggedHashHex.slice(0, 16)}…, ` +
        `file: sha256 ${actual.slice(0, 16)}…); give the right ELF with --guest`,
    );
  }
}
