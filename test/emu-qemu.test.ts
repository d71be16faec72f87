/**
 * Differential: every deterministic workload's small ELF prints the same result line on
 * emu as under QEMU (TCG), on 1 and 4 harts. The CLI's errors for bad arguments.
 */
import { execFile, spawn } from 'node:child_process';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { runGuest } from '../src/session/run.js';
import { GUESTS_DIR, REPO_ROOT, WORKLOADS, builtGuestPath } from '../src/guests/catalog.js';

const execFileAsync = promisify(execFile);
const CONSOLE_INPUT = 'hello rrkit\nRecord and Replay\nend\nnot read\n';

function qemu(elf: string, harts: number, input: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      'qemu-system-riscv64',
      ['-machine', 'virt', '-bios', 'none', '-nographic', '-smp', String(harts), '-kernel', elf],
      { stdio: ['pipe', 'pipe', 'inherit'] },
    );
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', () => {
      clearTimeout(timer);
      resolve(output.replace(/\r/g, ''));
    });
    child.stdin.end(input);
  });
}

const resultLine = (name: string, output: string): string | undefined =>
  output.split('\n').find((line) => line.startsWith(`${name}: `));

beforeAll(async () => {
  await execFileAsync('make', ['-C', GUESTS_DIR, '-j2', 'rv64'], { maxBuffer: 1 << 24 }).catch(async () =>
    execFileAsync('make', ['-C', GUESTS_DIR, '-j2'], { maxBuffer: 1 << 24 }),
  );
});

describe('emu against QEMU', () => {
  for (const workload of WORKLOADS.filter((w) => w.deterministic && !w.needsDisk)) {
    for (const harts of [1, 4]) {
      it(`${workload.name}.small on ${harts} hart(s)`, async () => {
        const elf = builtGuestPath(workload.name, 'rv64', true);
        const input = workload.needsConsoleInput ? CONSOLE_INPUT : '';
        const emu = await runGuest({
          elf,
          vcpus: harts,
          capture: true,
          timeoutSeconds: 60,
          input: { kind: 'bytes', data: Buffer.from(input) },
        });
        const emuLine = resultLine(workload.name, emu.console.toString());
        expect(emuLine).toMatch(new RegExp(`^${workload.name}: ok`));
        expect(emu.exitCode).toBe(0);
        expect(emuLine).toBe(resultLine(workload.name, await qemu(elf, harts, input)));
      });
    }
  }

  it('nondeterministic workloads still run and check themselves (entropy-mix uses the rrkit device)', async () => {
    for (const workload of WORKLOADS.filter((w) => !w.deterministic && !w.needsDisk)) {
      const emu = await runGuest({ elf: builtGuestPath(workload.name, 'rv64', true), vcpus: 2, capture: true, timeoutSeconds: 60 });
      expect(resultLine(workload.name, emu.console.toString())).toMatch(new RegExp(`^${workload.name}: ok`));
    }
  });
});

describe('rrkit run', () => {
  const rrkit = join(REPO_ROOT, 'bin', 'rrkit');
  async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    try {
      const { stdout, stderr } = await execFileAsync(rrkit, args);
      return { code: 0, stdout, stderr };
    } catch (error) {
      const e = error as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  }

  it('runs a built-in workload by name and exits with its code', async () => {
    const r = await run(['run', '--engine', 'emu', '--vcpus', '2', 'matmul.small']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^matmul: ok/m);
  });

  it('gives one-line errors and a non-zero exit', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rrkit-run-'));
    const text = join(dir, 'not-an-elf.elf');
    writeFileSync(text, 'hello');
    const low = join(dir, 'low.elf');
    await execFileAsync('riscv64-linux-gnu-gcc', [
      '-nostdlib', '-nostartfiles', '-static', '-no-pie', '-Wl,-Ttext=0x70000000', '-Wl,--build-id=none',
      join(REPO_ROOT, 'test', 'isa', 'loop.S'), '-o', low,
    ]);
    const cases: [string[], RegExp][] = [
      [['run', join(dir, 'missing.elf')], /no such guest ELF/],
      [['run', text], /not an ELF file/],
      [['run', '--engine', 'emu', '/bin/sh'], /wrong architecture: x86_64 ELF/],
      [['run', low], /entry point 0x70000000 is outside RAM/],
      [['run', '--engine', 'kvm', '--vcpus', '9', 'matmul.small'], /--vcpus must be an integer from 1 to 8, not '9'/],
      [['run', '--engine', 'emu', '--disk', text, 'matmul.small'], /only the kvm engine's board has a block device/],
      [['run', '--vcpus', '65', 'matmul.small'], /--vcpus must be/],
    ];
    for (const [args, pattern] of cases) {
      const r = await run(args);
      expect(r.code, args.join(' ')).not.toBe(0);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(pattern);
    }
  });

  it('stops a guest at --timeout', async () => {
    // Full-size sha256 runs for over half a second even at 1000 MIPS: far past 20 ms.
    const r = await run(['run', '--timeout', '0.02', builtGuestPath('sha256', 'rv64', false)]);
    expect(r.code).toBe(124);
    expect(r.stderr).toMatch(/timeout/);
  });
});
