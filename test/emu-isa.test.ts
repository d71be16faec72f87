/**
 * The emu engine instruction by instruction: self-checking programs (test/isa/*.S) that
 * exit 0 and print PASS, run natively; bad guests stop with a clear error; runs to an
 * exact instruction count are repeatable.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { GuestFailure } from '../src/engines/engine.js';
import { runGuest } from '../src/session/run.js';
import { buildIsaPrograms } from './isa-build.js';

let elf: Record<string, string> = {};

beforeAll(async () => {
  elf = await buildIsaPrograms(['alu', 'amo', 'trap', 'branch-misaligned', 'bad-illegal', 'bad-jump', 'bad-store', 'loop', 'zero-page']);
});

describe('instruction set', () => {
  it('RV64I and M, with the edge cases', async () => {
    const result = await runGuest({ elf: elf['alu']!, capture: true, timeoutSeconds: 10 });
    expect(result.console.toString()).toBe('PASS alu\n');
    expect(result.exitCode).toBe(0);
  });

  it('A: every AMO, LR/SC, on one hart', async () => {
    const result = await runGuest({ elf: elf['amo']!, capture: true, timeoutSeconds: 10 });
    expect(result.console.toString()).toBe('PASS amo\n');
  });

  it('A: LR/SC and amoadd counters under contention on 4 harts', async () => {
    const result = await runGuest({ elf: elf['amo']!, vcpus: 4, capture: true, timeoutSeconds: 30 });
    expect(result.console.toString()).toBe('PASS amo\n');
    expect(result.exitCode).toBe(0);
  });

  it('a taken branch to a target not 4-byte aligned: instruction-address-misaligned on the branch (mcause 0, mepc the branch, mtval the target); not taken: nothing', async () => {
    const result = await runGuest({ elf: elf['branch-misaligned']!, capture: true, timeoutSeconds: 10 });
    expect(result.console.toString()).toBe('PASS branch-misaligned\n');
    expect(result.exitCode).toBe(0);
  });

  it('traps, mret, vectored mtvec, software and timer interrupts, wfi', async () => {
    const result = await runGuest({ elf: elf['trap']!, capture: true, timeoutSeconds: 10 });
    expect(result.console.toString()).toBe('PASS trap\n');
  });
});

describe('bad guests stop with an error naming hart, pc, instruction and cause', () => {
  async function failure(name: string, timeoutSeconds = 10): Promise<GuestFailure> {
    try {
      await runGuest({ elf: elf[name]!, capture: true, timeoutSeconds });
    } catch (error) {
      if (error instanceof GuestFailure) return error;
      throw error;
    }
    throw new Error(`${name} did not fail`);
  }

  it('illegal instruction without a trap handler', async () => {
    const error = await failure('bad-illegal');
    expect(error.result.outcome).toBe('fault');
    expect(error.message).toMatch(/^hart 0: illegal instruction at pc 0x80000004 \(instruction 0xffffffff, mcause 2/);
    expect(error.message).toContain('mtvec is 0');
  });

  it('jump outside RAM', async () => {
    const error = await failure('bad-jump');
    expect(error.message).toMatch(/^hart 0: instruction access fault at pc 0x40000000 .*mtvec is 0/);
  });

  it('store to an unmapped region from the trap handler: trap loop', async () => {
    const error = await failure('bad-store');
    expect(error.message).toMatch(/store\/AMO access fault at pc 0x80000010 .*mtval 0x1000.*trap loop/);
  });

  it('an infinite loop is stopped by the timeout', async () => {
    const error = await failure('loop', 0.5);
    expect(error.result.outcome).toBe('timeout');
    expect(error.message).toContain('timeout');
    expect(error.result.vcpus[0]!.landmark).toBeGreaterThan(1_000_000n);
  });
});

describe('exact instruction counts', () => {
  it('running to count N twice stops at the same pc with the same register hash', async () => {
    for (const n of [1n, 7n, 12_345n, 1_000_003n]) {
      const b = await runGuest({ elf: elf['loop']!, capture: true, stopAt: [n], ramMiB: 1 });
      const c = await runGuest({ elf: elf['loop']!, capture: true, stopAt: [n], ramMiB: 1 });
      expect(b.outcome).toBe('reached-counts');
      expect(b.vcpus[0]!.landmark).toBe(n);
      expect(c.vcpus[0]!.pc).toBe(b.vcpus[0]!.pc);
      expect(c.vcpus[0]!.registerHash).toBe(b.vcpus[0]!.registerHash);
      expect(c.stateHash).toBe(b.stateHash);
    }
  });

  it('the memory hash is a function of the contents: a page written and zeroed again hashes as untouched', async () => {
    const at = async (n: bigint) =>
      (await runGuest({ elf: elf['zero-page']!, capture: true, stopAt: [n], ramMiB: 4 })).memoryHash;
    const untouched = await at(1n);
    expect(await at(3n)).not.toBe(untouched);
    expect(await at(100n)).toBe(untouched);
  });

  it('stops mid-block at every count of a short program', async () => {
    const full = await runGuest({ elf: elf['alu']!, capture: true, ramMiB: 1 });
    const total = full.exitLandmark;
    const seen = new Set<bigint>();
    for (let n = 0n; n <= total; n += 37n) {
      const r = await runGuest({ elf: elf['alu']!, capture: true, stopAt: [n], ramMiB: 1 });
      expect(r.vcpus[0]!.landmark).toBe(n);
      const again = await runGuest({ elf: elf['alu']!, capture: true, stopAt: [n], ramMiB: 1 });
      expect(again.vcpus[0]!.registerHash).toBe(r.vcpus[0]!.registerHash);
      seen.add(r.vcpus[0]!.pc);
    }
    expect(seen.size).toBeGreaterThan(5);
  });
});
