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
