/**
 * The kvm engine without /dev/kvm, on every machine: native/tools/kvm_devices_test.cc, one
 * vitest case per C++ test — the exit dispatcher fed made-up exits, the board's devices
 * against a fake World, the interrupt controller, timer, disk, incremental memory hash,
 * long-mode tables, ELF loader and the messages for a host without /dev/kvm — and the
 * binding's probe of a device that is not there.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { builtGuestPath } from '../src/guests/catalog.js';
import { native } from '../src/native.js';
import { nativeTestCases } from './native-tests.js';

const tools = join('native', 'tools');

describe('native/kvm without /dev/kvm: exits, devices, memory hash, long mode, ELF, messages', () => {
  nativeTestCases({
    build: ['make', '-C', tools, '-j2', join('build', 'kvm_devices_test')],
    program: join(tools, 'build', 'kvm_devices_test'),
    // Built by make -C guests (setup.sh), as every engine test expects.
    env: { RRKIT_TEST_X86_64_ELF: builtGuestPath('matmul', 'x86_64', true), RRKIT_TEST_RV64_ELF: builtGuestPath('matmul', 'rv64', true) },
  });

  it('kvmProbe reports a missing /dev/kvm in one line, without throwing', () => {
    const probe = native().kvmProbe('/nonexistent/kvm');
    expect(probe.available).toBe(false);
    expect(probe.reason).toMatch(/^\/nonexistent\/kvm is absent\b/);
    expect(probe.reason).not.toContain('\n');
  });
});
