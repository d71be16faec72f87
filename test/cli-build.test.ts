/**
 * bin/rrkit and its build step, in a scratch copy of the checkout (src/, scripts/, bin/,
 * package.json, node_modules linked): the first start builds dist/rrkit.mjs, an edit under
 * src/ makes the next start rebuild and say so, and a checkout that cannot build says what
 * to do instead of running stale or missing code.
 */
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../src/guests/catalog.js';

const execFileAsync = promisify(execFile);
const copy = mkdtempSync(join(tmpdir(), 'rrkit-build-'));
const bundle = join(copy, 'dist', 'rrkit.mjs');

async function start(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileAsync(join(copy, 'bin', 'rrkit'), args, { cwd: tmpdir() });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

beforeAll(() => {
  for (const part of ['src', 'scripts', 'bin', 'package.json', 'guests/Makefile']) cpSync(join(REPO_ROOT, part), join(copy, part), { recursive: true });
  symlinkSync(join(REPO_ROOT, 'node_modules'), join(copy, 'node_modules'));
});

afterAll(() => rmSync(copy, { recursive: true, force: true }));

describe('bin/rrkit from a checkout', () => {
  it('builds its bundle on the first start', async () => {
    expect(existsSync(bundle)).toBe(false);
    const { code, stdout, stderr } = await start('--version');
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(stdout).toMatch(/^rrkit \d+\.\d+\.\d+\n$/);
    expect(existsSync(bundle)).toBe(true);
  });

  it('starts without rebuilding while the sources are unchanged', async () => {
    const { code, stderr } = await start('--version');
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
  });

  it('rebuilds, and says so, after an edit under src/', async () => {
    // An edit that changes behaviour: the rebuilt command must show it.
    const source = join(copy, 'src', 'cli', 'version.ts');
    writeFileSync(source, readFileSync(source, 'utf8').replaceAll('`rrkit ${version}', '`rrkit-edited ${version}'));
    const later = new Date(Date.now() + 2000);
    utimesSync(source, later, later);
    const { code, stdout, stderr } = await start('--version');
    expect(stderr).toBe('rrkit: src/ changed since the last build; rebuilding dist/rrkit.mjs\n');
    expect(stdout).toMatch(/^rrkit-edited \d/);
    expect(code).toBe(0);
  });

  it('refuses, with what to do, when it has no bundle and cannot build one', async () => {
    rmSync(join(copy, 'dist'), { recursive: true });
    rmSync(join(copy, 'node_modules'));
    const { code, stderr } = await start('--version');
    expect(stderr).toMatch(/^rrkit: cannot rebuild dist\/rrkit\.mjs \(.*\); run `npm ci` in /);
    expect(code).toBe(121); // rrkit failed
  });
});
