/**
 * The engine-independent CREW core (native/crew/): the stand-alone test program
 * native/tools/crew_test.cc, plainly and under ThreadSanitizer, one vitest case per test.
 * It records racy interleavings on 2, 4 and 8 fake vCPUs, replays each twice with the
 * ReplayGate and checks that replay matches the recording exactly; checks that crossed
 * faults, idle holders and bad logs neither deadlock nor hang.
 */
import { join } from 'node:path';
import { describe, expect } from 'vitest';
import { nativeTestCases } from './native-tests.js';

const buildDir = join('build', 'crew');
const build = ['make', '-f', 'native/tools/crew_test.mk', '-j2', `BUILD=${buildDir}`];

describe('CREW core', () => {
  nativeTestCases({ build, program: join(buildDir, 'crew_test') });
});

describe('CREW core under ThreadSanitizer: no data race in the protocol', () => {
  nativeTestCases({
    build,
    program: join(buildDir, 'crew_test_tsan'),
    env: { CREW_TEST_QUICK: '1', TSAN_OPTIONS: 'halt_on_error=1 exitcode=66' },
    check: (output) => expect(output).not.toMatch(/WARNING: ThreadSanitizer/),
  });
});
