/**
 * Builds a guest ELF from C sources with the guests Makefile's `program` target, so that
 * the compiler and linker flags live in one place (guests/Makefile).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
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

export async function buildGuest(opts: BuildGuestOptions): Promise<void> {
  if (!GUEST_ARCHES.includes(opts.arch)) {
    throw new RangeError(`arch must be one of ${GUEST_ARCHES.join(', ')}, not '${String(opts.arch)}'`);
  }
  if (opts.sources.length === 0) throw new TypeError('buildGuest needs at least one source file');
  const sources = opts.sources.map((s) => checkedPath(s, 'source'));
  const missing = sources.filter((s) => !existsSync(s));
  if (missing.length > 0) throw new Error(`no such source file: ${missing.join(', ')}`);
  const output = checkedPath(opts.output, 'output');

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
    throw new Error(`building ${output} for ${opts.arch} failed:\n${detail}`, { cause: error });
  }
}
