/**
 * The kvm engine's SMP glue without /dev/kvm, on every machine (native/tools/kvm_crew_test.cc,
 * one vitest case per C++ test): which pages a faulting instruction touches (Zydis), pending
 * rights turned into protect calls, CREW recording over fake page protectors (a running
 * holder yields only at its own landmark; edges and fault records), and replay's arming,
 * checks (a missing edge, an exit where a fault was recorded) and gate.
 */
import { join } from 'node:path';
import { describe } from 'vitest';
import { nativeTestCases } from './native-tests.js';

const tools = join('native', 'tools');

describe('native/kvm SMP glue without /dev/kvm: decoder, page rights, CREW recording and replay', () => {
  nativeTestCases({ build: ['make', '-C', tools, '-j2', join('build', 'kvm_crew_test')], program: join(tools, 'build', 'kvm_crew_test') });
});
