/**
 * One vitest case per test of a stand-alone C++ test program (native/tools/test_harness.h):
 * the program is built while the test file is collected, lists its tests (--list), and
 * each case runs one of them by name (--run NAME) in its own process, so that a failure
 * names the test and shows its failed checks.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { repoRoot } from '../src/native.js';

interface Run {
  status: number | null;
  output: string;
}

function run(command: string, args: readonly string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 600_000): Run {
  const result = spawnSync(command, args, {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: timeoutMs,
    maxBuffer: 64 * 1024 * 1024,
  });
  const timedOut = result.error !== undefined ? `\n(${result.error.message})` : '';
  return { status: result.status, output: `${result.stdout ?? ''}${result.stderr ?? ''}${timedOut}` };
}

export interface NativeTestProgram {
  /** how to build it: a command run from the repository root */
  build: readonly string[];
  /** the program, relative to the repository root */
  program: string;
  env?: NodeJS.ProcessEnv;
  /** extra checks on one test's output (e.g. no sanitizer warning) */
  check?: (output: string) => void;
  timeoutMs?: number;
}

/** Declares the program's tests as vitest cases; call inside a describe. */
export function nativeTestCases(p: NativeTestProgram): void {
  // Test files are collected in parallel workers, and three of them build into the same
  // native/tools/build/obj/: one make writing an object while another links it fails the
  // link. Builds take turns, under a lock on the Makefile.
  // Generous: a build may wait for the others, on a loaded machine.
  const build = run('flock', [join(repoRoot, 'native', 'tools', 'Makefile'), ...p.build], {}, 1_800_000);
  if (build.status !== 0) {
    it(`builds (${p.build.join(' ')})`, () => {
      throw new Error(`building ${p.program} failed:\n${build.output}`);
    });
    return;
  }
  const list = run(p.program, ['--list'], p.env);
  const names = list.status === 0 ? list.output.split('\n').filter((line) => line !== '') : [];
  if (names.length === 0) {
    it(`lists its tests (${p.program} --list)`, () => {
      throw new Error(`${p.program} --list gave no tests:\n${list.output}`);
    });
    return;
  }
  for (const name of names) {
    it(name, () => {
      const result = run(p.program, ['--run', name], p.env, p.timeoutMs);
      expect(result.output, result.output).toContain(`PASS ${name}\n`);
      expect(result.status, result.output).toBe(0);
      p.check?.(result.output);
    }, p.timeoutMs ?? 600_000);
  }
}
