/**
 * test/kvm/ inside the sandbox, on a host whose /dev/kvm is not usable (or with
 * RRKIT_KVM_SANDBOX=1); vitest.config.ts includes this file only then, and leaves test/kvm/
 * out. The sandbox boots once, while this file is collected, and runs the inner vitest on
 * test/kvm/ with a JSON report; each inner test then becomes an outer test of the same name
 * that passes or fails as it did inside. Nothing is skipped: a sandbox that fails, or an
 * inner run that reports nothing, is a failing test with the sandbox's own error.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { innerResults, type InnerResult } from './inner-results.js';
import { runInSandbox, type SandboxRunResult } from './run.js';
import { PROJECT_DIR } from './sandbox-paths.js';

const INNER_TIMEOUT_MS = 15 * 60_000;
const INNER_PREFIX = '[in sandbox] ';

interface Outcome {
  run?: SandboxRunResult;
  error?: Error;
  results: InnerResult[];
  reportProblem?: string;
  outputTail: string;
}

async function runKvmTestsInside(): Promise<Outcome> {
  const runDir = mkdtempSync(join(tmpdir(), 'rrkit-kvm-tests-'));
  const report = join(runDir, 'report.json');
  let output = '';
  const outcome: Outcome = { results: [], outputTail: '' };
  try {
    outcome.run = await runInSandbox({
      command: [join(PROJECT_DIR, 'node_modules/.bin/vitest'), 'run', 'test/kvm/', '--maxWorkers=1', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`],
      cwd: PROJECT_DIR,
      runDir,
      timeoutMs: INNER_TIMEOUT_MS,
      onOutput: (chunk) => {
        const text = chunk.toString('utf8');
        // Inner lines marked as such, so that the inner vitest's summary is not read as the outer one's.
        process.stderr.write(text.replace(/^(?=.)/gm, (_, offset: number) => (offset === 0 && output && !output.endsWith('\n') ? '' : INNER_PREFIX)));
        output += text;
      },
    });
    const seconds = (ms?: number) => (ms === undefined ? '?' : (ms / 1000).toFixed(1));
    const { stepTimesMs, totalMs } = outcome.run;
    process.stderr.write(`kvm sandbox: /init after ${seconds(stepTimesMs.modules)} s, command started at ${seconds(stepTimesMs.command)} s, done at ${seconds(totalMs)} s\n`);
    if (existsSync(report)) outcome.results = innerResults(JSON.parse(readFileSync(report, 'utf8')), PROJECT_DIR);
    else outcome.reportProblem = 'the inner vitest wrote no report';
  } catch (error) {
    outcome.error = error as Error;
  } finally {
    outcome.outputTail = output.split('\n').slice(-30).join('\n');
    if (!outcome.error) rmSync(runDir, { recursive: true, force: true });
  }
  return outcome;
}

const outcome = await runKvmTestsInside();

describe('KVM tests in the sandbox (real KVM inside QEMU)', () => {
  it('boots the sandbox and runs test/kvm/ inside', () => {
    if (outcome.error) throw outcome.error;
    if (outcome.reportProblem) throw new Error(`${outcome.reportProblem}; its output ended:\n${outcome.outputTail}`);
    expect(outcome.results.length, 'inner tests reported').toBeGreaterThan(0);
    if (outcome.run?.status !== 0 && outcome.results.every((r) => r.passed)) {
      throw new Error(`the inner vitest exited ${outcome.run?.status} with every test passed; its output ended:\n${outcome.outputTail}`);
    }
  });

  const files = [...new Set(outcome.results.map((r) => r.file))];
  for (const file of files) {
    const results = outcome.results.filter((r) => r.file === file);
    describe(file, () => {
      for (const result of results) {
        it(result.name.join(' > '), () => {
          if (!result.passed) throw new Error(result.messages.join('\n') || 'failed inside the sandbox');
        });
      }
    });
  }
});
