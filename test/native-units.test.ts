/**
 * The C++ unit tests (native/tools/, built with AddressSanitizer and UBSan), one vitest case
 * each: the log and the logging worlds (native/replay/), the engine-neutral machine parts
 * (native/machine/), and the emu board's devices driven through the bus with a fake World.
 */
import { join } from 'node:path';
import { describe } from 'vitest';
import { nativeTestCases } from './native-tests.js';

const tools = join('native', 'tools');

for (const [program, what] of [
  ['log_test', 'native/replay: the log writer and reader, the recording and replaying worlds'],
  ['machine_test', 'native/machine: bus, cut schedule, consistent cut, stop protocol, deadline timer'],
  ['device_test', 'native/emu devices with a fake World'],
] as const) {
  describe(what, () => {
    nativeTestCases({ build: ['make', '-C', tools, '-j2', join('build', program)], program: join(tools, 'build', program) });
  });
}
