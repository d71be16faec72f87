/**
 * The engine-independent CREW core (native/crew/): builds the stand-alone test program
 * native/tools/crew_test.cc, plainly and under ThreadSanitizer, and runs both. The program
 * records racy interleavings on 2, 4 and 8 fake vCPUs, replays each twice with the
 * ReplayGate and checks that replay matches the recording exactly; checks that crossed
 * faults, idle holders and bad logs neither deadlock nor hang.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../src/native.js';

const buildDir = join(repoRoot, 'build', 'crew');

function run(command: string, args: string[], env: NodeJS.ProcessEnv = {}): { status: number | null; output: string } {
  const result = spawnSync(command, args, {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 600_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  return { status: result.status, output: `${result.stdout ?? ''}${result.stderr ?? ''}` };
}

/** The closing "N passed, M failed" line of the test program. */
function summary(output: string): { passed: number; failed: number } | undefined {
  const match = /^(\d+) passed, (\d+) failed$/m.exec(output);
  return match ? { passed: Number(match[1]), failed: Number(match[2]) } : undefined;
}

beforeAll(() => {
  const build = run('make', ['-f', 'native/tools/crew_test.mk', '-j2', `BUILD=${buildDir}`]);
  if (build.status !== 0) throw new Error(`building the CREW tests failed:\n${build.output}`);
}, 600_000);

describe('CREW core', () => {
  it('records and replays racy interleavings exactly; no deadlock, no hang', () => {
    const result = run(join(buildDir, 'crew_test'), []);
    expect(summary(result.output), result.output).toMatchObject({ failed: 0 });
    expect(result.status, result.output).toBe(0);
  }, 600_000);

  it('has no data race in the protocol (ThreadSanitizer)', () => {
    const result = run(join(buildDir, 'crew_test_tsan'), [], {
      CREW_TEST_QUICK: '1',
      TSAN_OPTIONS: 'halt_on_error=1 exitcode=66',
    });
    expect(result.output).not.toMatch(/WARNING: ThreadSanitizer/);
    expect(summary(result.output), result.output).toMatchObject({ failed: 0 });
    expect(result.status, result.output).toBe(0);
  }, 600_000);
});
