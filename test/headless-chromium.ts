/**
 * Debian's Chromium, headless, for tests of the HTML timeline: the DOM after the page's
 * scripts ran, and a screenshot. The flags are the ones that work on these machines (no
 * sandbox as root, no GPU, no background network traffic: the network is closed), with a
 * fresh profile each time. Chromium is installed by ./setup.sh; without it the test fails
 * with that advice rather than skipping.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);
export const CHROMIUM = '/usr/bin/chromium';
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--hide-scrollbars',
];

async function run(page: string, extra: string[]): Promise<string> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run ./setup.sh (it installs Debian's chromium)`);
  const profile = mkdtempSync(join(tmpdir(), 'rrkit-chromium-'));
  try {
    const { stdout } = await execFileAsync(CHROMIUM, [...FLAGS, `--user-data-dir=${profile}`, ...extra, pathToFileURL(page).href], {
      timeout: 60_000,
      maxBuffer: 64 << 20,
    });
    return stdout;
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
}

/** The page's DOM, serialised after its scripts ran. */
export function dumpDom(page: string): Promise<string> {
  return run(page, ['--dump-dom']);
}

/** A PNG of the page in a window of `width` × `height`. */
export async function screenshot(page: string, out: string, width = 1200, height = 800): Promise<Buffer> {
  await run(page, [`--window-size=${width},${height}`, `--screenshot=${out}`]);
  return readFileSync(out);
}
