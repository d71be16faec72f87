/**
 * Guests that cannot go on, on the kvm engine: each ends the run with a clear one-line error
 * that names what happened and shows the registers — never a hang. (Needs /dev/kvm; fails
 * without it.) The guests are in guests/kvm-tests/ (raw assembly entered at CPL0 with no runtime,
 * and programs over the runtime), built by `make -C guests`.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../../src/cli/exit-status.js';
import { GuestFailure } from '../../src/engines/engine.js';
import { kvmAvailability } from '../../src/engines/kvm.js';
import { GUESTS_DIR, REPO_ROOT } from '../../src/guests/catalog.js';
import { record } from '../../src/session/record.js';
import { runGuest } from '../../src/session/run.js';
import { readLogFile } from '../../src/analysis/log-reader.js';

const execFileAsync = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'rrkit-kvm-faults-'));
/** rip=… rsp=… rflags=… cs=… … : the registers every fault report ends with. */
const REGISTERS = /; rip=0x[0-9a-f]+ rsp=0x[0-9a-f]+ rflags=0x[0-9a-f]+ cs=0x[0-9a-f]+ .* rax=0x[0-9a-f]+/;

async function failureOf(run: Promise<unknown>): Promise<GuestFailure> {
  const error = await run.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(GuestFailure);
  return error as GuestFailure;
}

const FAULTS = ['triple-fault', 'emulation-failure', 'port-io', 'halt-interrupts-off', 'never-exits', 'access-nowhere'];
const elves: Record<string, string> = Object.fromEntries(FAULTS.map((f) => [f, join(GUESTS_DIR, 'build', 'x86_64', 'kvm-tests', `${f}.elf`)]));

beforeAll(() => {
  const kvm = kvmAvailability();
  expect(kvm.available, kvm.reason).toBe(true);
  for (const elf of Object.values(elves)) expect(existsSync(elf), `${elf} is not built: run make -C guests`).toBe(true);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('a guest that cannot go on gets one line with what happened and the registers', () => {
  const cases: [string, RegExp][] = [
    ['triple-fault', /^triple fault: the guest shut down .* at exit 1; rip=/],
    ['emulation-failure', /^KVM could not emulate an instruction \(emulation failure\) \(suberror 1\)(, instruction bytes df 28.*)? at exit 1; rip=/],
    ['port-io', /^port I\/O \(out to port 0x80\): the board has no I\/O ports, its devices are MMIO at 0xd0000000 at exit 1; rip=/],
    ['halt-interrupts-off', /^the guest halted with interrupts disabled at exit 1; rip=/],
    ['access-nowhere', /^write to 0xe0000000, which is neither guest RAM nor the devices page at exit \d+; rip=/],
  ];
  for (const [name, message] of cases) {
    it(name, async () => {
      const failure = await failureOf(runGuest({ elf: elves[name]!, engine: 'kvm', capture: true }));
      expect(failure.result.outcome).toBe('fault');
      expect(failure.message).toMatch(message);
      expect(failure.message).toMatch(REGISTERS);
      expect(failure.message.split('\n')).toHaveLength(1);
    });
  }

  it('a guest that never exits is kicked out of KVM_RUN at --timeout', async () => {
    const failure = await failureOf(runGuest({ elf: elves['never-exits']!, engine: 'kvm', capture: true, timeoutSeconds: 0.3 }));
    expect(failure.result.outcome).toBe('timeout');
    expect(failure.message).toMatch(/^the guest did not stop within the timeout of 0\.3 s \(it was at exit \d+\); rip=/);
    expect(failure.message).toMatch(REGISTERS);
    // CPL3: the kick found it in the workload (cs 0x1b), not in the runtime's start-up.
    expect(failure.message).toMatch(/ cs=0x1b /);
  });

  it('a fault while recording leaves the log incomplete, and the CLI exits 122 (a guest fault) with the line (124 at the timeout)', async () => {
    const logPath = join(dir, 'triple.rrlog');
    const failure = await failureOf(record({ elf: elves['triple-fault']!, logPath, capture: true }));
    expect(failure.result.outcome).toBe('fault');
    expect(readLogFile(logPath).complete).toBe(false);

    const rrkit = join(REPO_ROOT, 'bin', 'rrkit');
    const run = async (args: string[]): Promise<{ code: number; stderr: string }> =>
      execFileAsync(rrkit, args).then(
        ({ stderr }) => ({ code: 0, stderr }),
        (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }),
      );
    const triple = await run(['run', elves['triple-fault']!]);
    expect(triple.code).toBe(EXIT.guestFault);
    expect(triple.stderr).toMatch(/^rrkit: triple fault: .*; rip=0x[0-9a-f]+ /);
    expect(triple.stderr.trim().split('\n')).toHaveLength(1);
    const timeout = await run(['run', '--timeout', '0.2', elves['never-exits']!]);
    expect(timeout.code).toBe(EXIT.timeout);
    expect(timeout.stderr).toMatch(/^rrkit: the guest did not stop within the timeout/);
  });
});
