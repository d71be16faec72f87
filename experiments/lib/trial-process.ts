/**
 * Runs a trial in a process of its own, so that a crash, a hang or a guest fault costs one
 * cell and the sweep goes on. The trial program (trial-main.ts) is bundled once per run into
 * dist/ (beside the command's bundle, so that it finds the addon and the guests the same way).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../src/native.js';
import type { TrialSpec, TrialValues } from './trial-spec.js';

export const TRIAL_BUNDLE = join(repoRoot, 'dist', 'experiment-trial.mjs');

/** Builds dist/experiment-trial.mjs from experiments/lib/trial-main.ts (esbuild, as scripts/build.mjs does the command). */
export async function bundleTrialProgram(): Promise<void> {
  const { build } = await import('esbuild');
  mkdirSync(join(repoRoot, 'dist'), { recursive: true });
  const { outputFiles } = await build({
    write: false,
    entryPoints: [join(repoRoot, 'experiments', 'lib', 'trial-main.ts')],
    outfile: TRIAL_BUNDLE,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    logLevel: 'warning',
    banner: { js: "import { createRequire as rrkitCreateRequire } from 'node:module'; const require = rrkitCreateRequire(import.meta.url);" },
  });
  // Written beside and renamed into place: runners started at once (tests) never run half a file.
  for (const file of outputFiles) {
    const part = `${file.path}.part${process.pid}`;
    writeFileSync(part, file.contents);
    renameSync(part, file.path);
  }
}

/** The trial processes running now (their group ids), ended with the runner when it is interrupted. */
const running = new Set<number>();

/** Ends every running trial's process group (the runner got SIGINT or SIGTERM). */
export function killRunningTrials(): void {
  for (const pid of running) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  running.clear();
}

export type TrialOutcome =
  | { ok: true; values: TrialValues; seconds: number }
  | { ok: false; error: string; seconds: number };

/**
 * One trial in its own process, in `workDir` (which it may keep files in). Never rejects: a
 * non-zero exit, a signal or the timeout is a failed outcome with a one-line reason.
 */
export function runTrialProcess(spec: TrialSpec, workDir: string, timeoutSeconds: number, resultsDir: string): Promise<TrialOutcome> {
  mkdirSync(workDir, { recursive: true });
  const specPath = join(workDir, 'spec.json');
  const resultPath = join(workDir, 'result.json');
  writeFileSync(specPath, JSON.stringify(spec));
  const started = process.hrtime.bigint();
  const elapsed = (): number => Number(process.hrtime.bigint() - started) / 1e9;
  return new Promise((resolve) => {
    // Its own process group, so that a timeout also ends what the trial started (QEMU).
    const child = spawn(process.execPath, [TRIAL_BUNDLE, specPath, resultPath, workDir, resultsDir], {
      stdio: ['ignore', 'ignore', 'pipe'],
      detached: true,
    });
    if (child.pid !== undefined) running.add(child.pid);
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (text: string) => {
      stderr = (stderr + text).slice(-4000);
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
    }, timeoutSeconds * 1000);
    child.on('error', (error) => {
      clearTimeout(timer);
      resolve({ ok: false, error: `could not start the trial: ${error.message}`, seconds: elapsed() });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (child.pid !== undefined) running.delete(child.pid);
      const seconds = elapsed();
      const lastLine = stderr.trim().split('\n').at(-1) ?? '';
      if (timedOut) resolve({ ok: false, error: `timed out after ${timeoutSeconds} s`, seconds });
      else if (signal !== null) resolve({ ok: false, error: `crashed (${signal})${lastLine === '' ? '' : `: ${lastLine}`}`, seconds });
      else if (code !== 0 || !existsSync(resultPath)) resolve({ ok: false, error: `exit ${code}${lastLine === '' ? '' : `: ${lastLine}`}`, seconds });
      else resolve({ ok: true, values: JSON.parse(readFileSync(resultPath, 'utf8')) as TrialValues, seconds });
    });
  });
}
