/**
 * The guest runtimes and workloads: everything builds for both arches, every rv64 workload
 * checks itself under QEMU on 1 and 4 harts, and buildGuest builds a user's program.
 * x86_64 guests are only built here: test/kvm/ runs them on /dev/kvm.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildGuest } from '../src/guests/build.js';
import { GUEST_ARCHES, GUESTS_DIR, WORKLOADS, builtGuestPath, resolveGuest } from '../src/guests/catalog.js';

const execFileAsync = promisify(execFile);

const CONSOLE_INPUT = 'hello rrkit\nRecord and Replay\nend\nnot read\n';
const QEMU_TIMEOUT_MS = 30_000;

interface GuestRun {
  code: number | null;
  output: string;
}

/** Runs an rv64 ELF under QEMU's virt board; the console is QEMU's stdio. */
function runQemu(elf: string, harts: number, input = ''): Promise<GuestRun> {
  return new Promise((resolvePromise, reject) => {
    const qemu = spawn(
      'qemu-system-riscv64',
      ['-machine', 'virt', '-bios', 'none', '-nographic', '-smp', String(harts), '-kernel', elf],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    let output = '';
    qemu.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    qemu.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    const timer = setTimeout(() => qemu.kill('SIGKILL'), QEMU_TIMEOUT_MS);
    qemu.on('error', reject);
    qemu.on('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, output: output.replace(/\r/g, '') });
    });
    qemu.stdin.end(input);
  });
}

/** At most `limit` tasks at once: QEMU runs are CPU-bound and the machine has two cores. */
function limiter(limit: number): <T>(task: () => Promise<T>) => Promise<T> {
  let running = 0;
  const waiting: (() => void)[] = [];
  return async (task) => {
    if (running >= limit) await new Promise<void>((wake) => waiting.push(wake));
    running++;
    try {
      return await task();
    } finally {
      running--;
      waiting.shift()?.();
    }
  };
}
const qemuSlot = limiter(2);

/** The workload's one result line, `NAME: ok ...` or `NAME: FAIL ...`. */
function resultLines(name: string, output: string): string[] {
  return output.split('\n').filter((line) => line.startsWith(`${name}: `));
}

beforeAll(async () => {
  await execFileAsync('make', ['-C', GUESTS_DIR, '-j2', '--no-print-directory'], { maxBuffer: 16 << 20 });
}, 300_000);

describe('built-in workloads', () => {
  it('have a small ELF for both arches after make -C guests', () => {
    for (const arch of GUEST_ARCHES) {
      for (const { name } of WORKLOADS) {
        const path = builtGuestPath(name, arch, true);
        expect(existsSync(path), path).toBe(true);
        expect(resolveGuest(`${name}.small`, arch)).toBe(path);
        expect(resolveGuest(name, arch)).toBe(builtGuestPath(name, arch));
      }
    }
  });

  describe.concurrent('under QEMU (rv64, small size)', () => {
    // The rv64 boards have no block device (disk-checksum is for the kvm engine's board).
    for (const workload of WORKLOADS.filter((w) => !w.needsDisk)) {
      it(`${workload.name} checks itself on 1 and 4 harts`, async () => {
        const elf = resolveGuest(`${workload.name}.small`, 'rv64');
        const input = workload.needsConsoleInput ? CONSOLE_INPUT : '';
        const lines: string[] = [];
        for (const harts of [1, 4]) {
          const run = await qemuSlot(() => runQemu(elf, harts, input));
          const result = resultLines(workload.name, run.output);
          expect(result, `${harts} harts:\n${run.output}`).toHaveLength(1);
          expect(result[0]).toMatch(new RegExp(`^${workload.name}: ok\\b`));
          expect(run.code, run.output).toBe(0);
          lines.push(result[0] ?? '');
        }
        if (workload.deterministic) expect(lines[1]).toBe(lines[0]);
      });
    }
  });

  it('console-echo echoes its input transformed', async () => {
    const run = await qemuSlot(() => runQemu(resolveGuest('console-echo.small', 'rv64'), 1, CONSOLE_INPUT));
    expect(run.output).toContain('> HELLO RRKIT\n> RECORD AND REPLAY\n');
    expect(run.output).not.toContain('NOT READ');
  });
});

describe('resolveGuest', () => {
  it('lists the built-in names for an unknown name', () => {
    expect(() => resolveGuest('no-such-workload', 'rv64')).toThrow(/matmul, fft/);
  });
  it('treats anything else as a path', () => {
    const elf = builtGuestPath('matmul', 'rv64', true);
    expect(resolveGuest(elf, 'rv64')).toBe(elf);
    expect(() => resolveGuest('/nonexistent/guest.elf', 'rv64')).toThrow(/no such guest ELF/);
  });
});

/** A user's program exercising the API across harts. */
const HELLO_PROGRAM = `#include "rrkit.h"
static spinlock_t lock;
static barrier_t barrier;
static volatile unsigned long arrived;
static unsigned long greeted;

int main(void)
{
    spin_lock(&lock);
    greeted++;
    spin_unlock(&lock);
    atomic_add(&arrived, 1);
    barrier_wait(&barrier);
    if (hart_id() != 0)
        return 0;
    putchar('>');
    printf(" %u harts, %lu arrived, %lu greeted, %d %x %s %c%%\\n", num_harts(), arrived, greeted, -7, 255u, "ok", 'z');
    return greeted == num_harts() ? 0 : 1;
}`;

describe('buildGuest', () => {
  let dir = '';
  let program = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'rrkit-guest-'));
    program = join(dir, 'hello.c');
    writeFileSync(program, HELLO_PROGRAM);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));


  it('builds a program for both arches; the rv64 one runs on 2 harts', async () => {
    for (const arch of GUEST_ARCHES) {
      const output = join(dir, `hello-${arch}.elf`);
      await buildGuest({ sources: [program], arch, output });
      expect(existsSync(output)).toBe(true);
    }
    const run = await qemuSlot(() => runQemu(join(dir, 'hello-rv64.elf'), 2));
    expect(run.output).toContain('> 2 harts, 2 arrived, 2 greeted, -7 ff ok z%\n');
    expect(run.code).toBe(0);
  });

  it("throws with the compiler's message when the program does not compile", async () => {
    const broken = join(dir, 'broken.c');
    writeFileSync(broken, 'int main(void) { return no_such_function(); }\n');
    await expect(buildGuest({ sources: [broken], arch: 'rv64', output: join(dir, 'broken.elf') })).rejects.toThrow(
      /no_such_function/,
    );
  });
});
