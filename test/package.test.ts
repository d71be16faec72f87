/**
 * rrkit as an installed package: `npm pack` of this checkout, installed with
 * `npm install -g` into a temporary prefix (which builds its addon from source), then the
 * installed `rrkit` used from another directory: version, a built-in workload, and a guest
 * program of the user's own built with the shipped runtime.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../src/guests/catalog.js';

const execFileAsync = promisify(execFile);
const work = mkdtempSync(join(tmpdir(), 'rrkit-package-'));
const prefix = join(work, 'prefix');
const installed = join(prefix, 'bin', 'rrkit');
/** Somewhere that is neither the checkout nor the package, as a user's shell would be. */
const elsewhere = join(work, 'elsewhere');

/** Runs the installed rrkit from `elsewhere`; resolves with its output and status, never rejects. */
async function rrkit(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileAsync(installed, args, { cwd: elsewhere });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

beforeAll(async () => {
  await execFileAsync('mkdir', ['-p', elsewhere]);
  await execFileAsync('npm', ['pack', '--pack-destination', work], { cwd: REPO_ROOT, maxBuffer: 1 << 24 });
  const tarball = readdirSync(work).find((name) => name.endsWith('.tgz'));
  if (tarball === undefined) throw new Error(`npm pack wrote no tarball into ${work}`);
  await execFileAsync(
    'npm',
    ['install', '-g', '--prefix', prefix, '--allow-scripts=rrkit', '--no-audit', '--no-fund', '--prefer-offline', join(work, tarball)],
    { cwd: work, maxBuffer: 1 << 24, env: { ...process.env, JOBS: '2' } },
  );
}, 900_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('the installed package', () => {
  it('says its version, without a git commit (it is not a checkout)', async () => {
    const { code, stdout } = await rrkit('--version');
    expect(code).toBe(0);
    expect(stdout.trim()).toMatch(/^rrkit \d+\.\d+\.\d+$/);
  });

  it('runs a built-in workload from any directory', async () => {
    const { code, stdout } = await rrkit('run', 'matmul.small');
    expect(stdout).toMatch(/^matmul: ok /m);
    expect(code).toBe(0);
  });

  it("builds and runs a user's own guest with the shipped runtime", async () => {
    const source = join(elsewhere, 'hello.c');
    writeFileSync(source, '#include <rrkit.h>\nint main(void) { printf("hello %d\\n", 6 * 7); return 3; }\n');
    const build = await rrkit('guest', 'build', source, '--arch', 'rv64', '-o', join(elsewhere, 'hello.elf'));
    expect(build.stderr).toBe(`rrkit: built ${join(elsewhere, 'hello.elf')} (rv64)\n`);
    expect(build.code).toBe(0);
    const run = await rrkit('run', join(elsewhere, 'hello.elf'));
    expect(run.stdout).toBe('hello 42\n');
    expect(run.code).toBe(3);
  });

  it('records, replays and verifies from the installed package', async () => {
    const log = join(elsewhere, 'run.rrlog');
    expect((await rrkit('record', 'entropy-mix.small', '-o', log)).code).toBe(0);
    const verify = await rrkit('verify', log);
    expect(verify.stderr).toMatch(/identical/);
    expect(verify.code).toBe(0);
  });
});
