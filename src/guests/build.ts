/**
 * Builds a guest ELF from C sources with the guests Makefile's `program` target, so that
 * the compiler and linker flags live in one place (guests/Makefile).
 */
import { execFile } from 'node:child_process';
import { closeSync, lstatSync, statSync, type Stats } from 'node:fs';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { printable } from '../files/printable.js';
import { openRegularFile } from '../files/regular-file.js';
import { GUEST_ARCHES, GUESTS_DIR, type GuestArch } from './catalog.js';

const execFileAsync = promisify(execFile);

export interface BuildGuestOptions {
  sources: string[];
  arch: GuestArch;
  output: string;
  /** Define RRKIT_SMALL (the quick-test sizes of the built-in workloads). */
  small?: boolean;
}

/** Paths go through make and a shell unquoted; allow only characters that mean nothing to either. */
const SAFE_PATH = /^[\w./+,:@%=~-]+$/;

function checkedPath(path: string, what: string): string {
  const absolute = resolve(path);
  if (!SAFE_PATH.test(absolute)) {
    throw new RangeError(`${what} path has characters make cannot pass through (spaces, quotes, $...): ${absolute}`);
  }
  return absolute;
}

/** The largest C source `rrkit guest build` compiles. */
export const MAX_SOURCE_BYTES = 64 * 1024 * 1024;

/** A source that does not compile (the compiler's messages in the error). */
export class GuestBuildFailed extends Error {
  override name = 'GuestBuildFailed';
}

/** The ELF to write: not a source being compiled, and a regular file if it exists. */
function checkOutput(output: string, sources: readonly Stats[]): void {
  let existing: Stats;
  try {
    existing = lstatSync(output);
  } catch {
    return;
  }
  if (!existing.isFile()) throw new RangeError(`-o ${printable(output)}: exists and is not a regular file`);
  if (sources.some((s) => s.dev === existing.dev && s.ino === existing.ino)) {
    throw new RangeError(`-o ${printable(output)}: is one of the sources; the ELF would overwrite it`);
  }
}

export async function buildGuest(opts: BuildGuestOptions): Promise<void> {
  if (!GUEST_ARCHES.includes(opts.arch)) {
    throw new RangeError(`arch must be one of ${GUEST_ARCHES.join(', ')}, not '${String(opts.arch)}'`);
  }
  if (opts.sources.length === 0) throw new TypeError('buildGuest needs at least one source file');
  const sources = opts.sources.map((s) => checkedPath(s, 'source'));
  // Regular files only: the compiler would read /dev/zero or a FIFO for ever.
  const identities = sources.map((s) => {
    const { fd } = openRegularFile(s, 'source', MAX_SOURCE_BYTES, 'no guest program needs a larger C file');
    closeSync(fd);
    return statSync(s);
  });
  const output = checkedPath(opts.output, 'output');
  checkOutput(output, identities);

  const args = [
    '-C',
    GUESTS_DIR,
    '--no-print-directory',
    'program',
    `ARCH=${opts.arch}`,
    `SRCS=${sources.join(' ')}`,
    `OUT=${output}`,
    ...(opts.small ? ['SMALL=1'] : []),
  ];
  try {
    await execFileAsync('make', args, { maxBuffer: 16 * 1024 * 1024 });
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr?.trim();
    const detail = stderr || (error instanceof Error ? error.message : String(error));
    throw new GuestBuildFailed(`building ${output} for ${opts.arch} failed:\n${detail}`, { cause: error });
  }
}
