/** Builds and runs the C++ unit tests of native/replay (native/tools/log_test.cc). */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../src/native.js';

describe('native/replay C++ tests', () => {
  it('log_test passes (writer, reader, bad input, recording and replaying worlds)', () => {
    const tools = join(repoRoot, 'native', 'tools');
    const build = spawnSync('make', ['-C', tools, 'build/log_test'], { encoding: 'utf8' });
    expect(build.status, build.stderr).toBe(0);
    const run = spawnSync(join(tools, 'build', 'log_test'), { encoding: 'utf8', timeout: 120_000 });
    expect(run.status, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toMatch(/log_test: all \d+ checks passed/);
  });
});
