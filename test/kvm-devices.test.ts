/**
 * The kvm engine without /dev/kvm: builds and runs native/tools/kvm_devices_test.cc — the
 * exit dispatcher fed made-up exits, the board's devices against a fake World, the
 * interrupt controller, timer, disk, incremental memory hash, long-mode tables, ELF loader
 * and the messages for a host without /dev/kvm. Runs on every machine.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { builtGuestPath, GUESTS_DIR } from '../src/guests/catalog.js';
import { native, repoRoot } from '../src/native.js';

describe('kvm engine C++ tests (no /dev/kvm needed)', () => {
  it('kvm_devices_test passes', () => {
    const x86 = builtGuestPath('matmul', 'x86_64', true);
    const rv64 = builtGuestPath('matmul', 'rv64', true);
    const guests = spawnSync('make', ['-C', GUESTS_DIR, '--no-print-directory', x86.slice(GUESTS_DIR.length + 1), rv64.slice(GUESTS_DIR.length + 1)], {
      encoding: 'utf8',
    });
    expect(guests.status, guests.stderr).toBe(0);
    const tools = join(repoRoot, 'native', 'tools');
    const build = spawnSync('make', ['-C', tools, 'build/kvm_devices_test'], { encoding: 'utf8' });
    expect(build.status, build.stderr).toBe(0);
    const run = spawnSync(join(tools, 'build', 'kvm_devices_test'), [x86, rv64], { encoding: 'utf8', timeout: 120_000 });
    expect(run.status, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toMatch(/kvm_devices_test: all \d+ checks passed/);
  }, 600_000); // building with the sanitizers takes minutes on a loaded two-core machine

  it('kvmProbe reports a missing /dev/kvm in one line, without throwing', () => {
    const probe = native().kvmProbe('/nonexistent/kvm');
    expect(probe.available).toBe(false);
    expect(probe.reason).toMatch(/^\/nonexistent\/kvm is absent\b/);
    expect(probe.reason).not.toContain('\n');
  });
});
