import { configDefaults, defineConfig } from 'vitest/config';
import { kvmPlacement } from './test/kvm-sandbox/detect.js';

// test/kvm/ needs a usable /dev/kvm. Where there is none (or RRKIT_KVM_SANDBOX=1), those files
// run inside the sandbox instead, through one harness file (docs/testing.md): never skipped.
const KVM_TESTS = 'test/kvm/**';
const KVM_TESTS_IN_SANDBOX = 'test/kvm-sandbox/kvm-tests-in-sandbox.test.ts';
const kvm = kvmPlacement();

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: [...configDefaults.exclude, kvm.where === 'sandbox' ? KVM_TESTS : KVM_TESTS_IN_SANDBOX],
    // Engine tests spawn guests and native threads; two cores, so keep files to two at once.
    maxWorkers: 2,
    testTimeout: 120_000,
    hookTimeout: 300_000,
    reporters: ['default'],
  },
});
