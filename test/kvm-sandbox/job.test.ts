import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { jobScript, sandboxEnvironment, shellQuote } from './job.js';

describe('the job script', () => {
  const dir = mkdtempSync(join(tmpdir(), "rrkit job's dir "));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('runs the command in its directory with exactly the environment given, arguments intact', () => {
    const job = jobScript({
      command: ['sh', '-c', 'pwd; printf "%s|" "$@"; echo; env | sort', 'name', "it's", 'two words', '$HOME'],
      cwd: dir,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', GREETING: 'a "quoted" value' },
    });
    const file = join(dir, 'job.sh');
    writeFileSync(file, job);
    const [cwd, args, ...env] = execFileSync('sh', [file], { encoding: 'utf8', env: { ...process.env, LEAK: 'x' } }).trim().split('\n');
    expect(cwd).toBe(dir);
    expect(args).toBe("it's|two words|$HOME|");
    expect(env.filter((line) => !line.startsWith('PWD=') && !line.startsWith('SHLVL=') && !line.startsWith('OLDPWD=') && !line.startsWith('_='))).toEqual([
      'GREETING=a "quoted" value',
      `PATH=${process.env.PATH ?? '/usr/bin:/bin'}`,
    ]);
  });

  it('exits 126 when the directory is not there, and refuses bad input', () => {
    const file = join(dir, 'job-missing.sh');
    writeFileSync(file, jobScript({ command: ['true'], cwd: join(dir, 'missing'), env: {} }));
    expect(() => execFileSync('sh', [file], { stdio: 'pipe' })).toThrow(expect.objectContaining({ status: 126 }));
    expect(() => jobScript({ command: [], cwd: dir, env: {} })).toThrow(/needs a command/);
    expect(() => jobScript({ command: ['true'], cwd: dir, env: { 'A B': '1' } })).toThrow(/not an environment variable name/);
  });

  it('quotes for the shell', () => {
    expect(shellQuote("a'b")).toBe(`'a'\\''b'`);
  });
});

describe("the command's environment inside", () => {
  it("keeps PATH, HOME, CI and RRKIT_* variables, forces the sandbox's own, then adds the caller's", () => {
    const env = sandboxEnvironment(
      { PATH: '/usr/bin', CI: 'true', RRKIT_X: '1', RRKIT_KVM_SANDBOX: '1', SECRET_TOKEN: 'no', EDITOR: 'vi' },
      { EXTRA: 'yes' },
    );
    expect(env).toEqual({
      HOME: '/root',
      TERM: 'dumb',
      PATH: '/usr/bin',
      CI: 'true',
      RRKIT_X: '1',
      RRKIT_KVM_SANDBOX: '0',
      RRKIT_IN_KVM_SANDBOX: '1',
      EXTRA: 'yes',
    });
  });
});
