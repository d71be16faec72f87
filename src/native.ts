/**
 * The whole native surface of rrkit, declared once. Nothing else imports the addon.
 *
 * The addon is built by node-gyp into build/Release (or build/Debug for a debug build).
 * Each native module registers its exports; `modules` lists the ones compiled in.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root (this file lives in src/). */
export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The functions the addon exports. Sections are added by each native module. */
export interface NativeAddon {
  /** Names of the native modules compiled into this build. */
  readonly modules: readonly string[];

  // --- log (native/addon/log_binding.cc, native/replay/) ---

  /**
   * Writes a log with the C++ writer from a description of its records (tests, fixtures).
   * Synchronous. Throws TypeError for a malformed description, Error for an invalid record
   * or an I/O failure.
   */
  logWrite(path: string, description: NativeLogDescription): void;
  /**
   * Reads and validates a log with the C++ reader. A bad log throws an Error with `code`,
   * `chunk` and `offset` as in LogFormatError (src/analysis/log-error.ts).
   */
  logRead(bytes: Uint8Array): NativeLogContents;
}

/** The header fields of a log, as src/analysis/log-reader.ts's LogHeader. */
export interface NativeLogHeader {
  engine: string;
  /** Hex. */
  imageHash: string;
  imagePath: string;
  vcpus: number;
  ramMib: number;
  crewGranularity: number;
  checkpointInterval: bigint;
  startUnixMs: bigint;
  configJson: string;
}

export interface NativeLogDescription {
  header: NativeLogHeader;
  /** Records as src/analysis/log-records.ts's LogRecord (numbers accepted for bigints). */
  records: readonly object[];
  /** Write the trailer (false leaves the log incomplete). */
  close: boolean;
  /** Seal a chunk when its payload reaches this many bytes. */
  maxChunkBytes: number;
}

export interface NativeLogContents {
  header: NativeLogHeader;
  records: object[];
  complete: boolean;
  chunks: number;
}

function loadAddon(): NativeAddon {
  const require = createRequire(import.meta.url);
  const candidates = ['build/Release/rrkit.node', 'build/Debug/rrkit.node'].map((p) => join(repoRoot, p));
  const found = candidates.find((p) => existsSync(p));
  if (found === undefined) {
    throw new Error(`rrkit's native addon is not built (looked for ${candidates.join(', ')}); run ./setup.sh or npm ci`);
  }
  return require(found) as NativeAddon;
}

let cached: NativeAddon | undefined;

/** The loaded addon (loaded on first use, so that commands that do not need it start without it). */
export function native(): NativeAddon {
  cached ??= loadAddon();
  return cached;
}
