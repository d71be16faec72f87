/**
 * Runs one command in the sandbox: checks the cached kernel, refreshes the initramfs, writes
 * the job into a run directory, boots QEMU, streams the command's output, follows /init's
 * steps on the console and returns the command's exit status, or throws a SandboxError
 * naming the step that failed.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ConsoleFollower } from './console-follower.js';
import { EXIT_BYTE, qemuStatusForExitByte, type SandboxStep } from './console-protocol.js';
import { JOB_FILE } from './init-script.js';
import { ensureInitramfs } from './initramfs.js';
import { jobScript, sandboxEnvironment, shellQuote } from './job.js';
import { checkKernel } from './kernel-package.js';
import { QEMU, qemuArgs } from './qemu.js';
import { SandboxError } from './sandbox-error.js';
import { sandboxPaths, type SandboxPaths } from './sandbox-paths.js';

/** Shows the emulated machine's console (kernel messages, /init's steps) on stderr. */
export const VERBOSE_VARIABLE = 'RRKIT_KVM_SANDBOX_VERBOSE';

export interface SandboxRunOptions {
  command: readonly string[];
  /** The working directory inside (the same path as on the host); default the current one. */
  cwd?: string;
  /** Variables added to the command's environment (see job.ts for what it keeps from the host). */
  env?: Record<string, string>;
  /**
   * A host directory shared read-write at the same path inside, for the command's results;
   * it also receives job.sh and console.log. Default: a fresh temporary directory, deleted
   * after a successful run and kept (and named in the error) after a failed one.
   */
  runDir?: string;
  timeoutMs?: number;
  memoryMiB?: number;
  /** Receives the command's output (stdout and stderr together); default: this process's stdout. */
  onOutput?: (chunk: Buffer) => void;
  /** Receives the QEMU command line, then each console line; default: nothing, or stderr when RRKIT_KVM_SANDBOX_VERBOSE=1. */
  onConsole?: (line: string) => void;
  paths?: SandboxPaths;
  /** The QEMU to run (tests use a stand-in); default qemu-system-x86_64 from PATH. */
  qemu?: string;
}

export interface SandboxRunResult {
  status: number;
  /** Milliseconds from QEMU's start to each of /init's steps, and to QEMU's exit. */
  stepTimesMs: Partial<Record<SandboxStep, number>>;
  totalMs: number;
}

const DEFAULT_TIMEOUT_MS = 15 * 60_000;
const DEFAULT_MEMORY_MIB = 2048;

interface QemuExit {
  code: number | null;
  stderr: string;
  timedOut: boolean;
}

/** Runs QEMU to its end (or kills it at the timeout); its stdout is the command's output. */
function runQemu(binary: string, args: string[], onOutput: (chunk: Buffer) => void, timeoutMs: number): Promise<QemuExit> {
  return new Promise((done, failed) => {
    const qemu = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const killOnExit = () => qemu.kill('SIGKILL');
    process.once('exit', killOnExit);
    let stderr = '';
    let timedOut = false;
    qemu.stdout.on('data', onOutput);
    qemu.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
    const timer = setTimeout(() => {
      timedOut = true;
      qemu.kill('SIGKILL');
    }, timeoutMs);
    const finish = () => {
      clearTimeout(timer);
      process.off('exit', killOnExit);
    };
    qemu.on('error', (error: NodeJS.ErrnoException) => {
      finish();
      failed(
        error.code === 'ENOENT'
          ? new SandboxError('qemu', `${QEMU} is not installed: install qemu-system-x86 (./setup.sh does when /dev/kvm is not usable)`)
          : new SandboxError('qemu', `${QEMU} did not start: ${error.message}`),
      );
    });
    qemu.on('close', (code) => {
      finish();
      done({ code, stderr, timedOut });
    });
  });
}

/** The command's status, or the error that says which step failed and how. */
function verdict(exit: QemuExit, machine: ConsoleFollower, timeoutMs: number): number {
  const where = `(console log: ${machine.logPath})`;
  if (exit.timedOut) throw new SandboxError(machine.step, `timed out after ${Math.round(timeoutMs / 1000)} s ${where}`);
  if (exit.code === qemuStatusForExitByte(EXIT_BYTE.done) && machine.status !== undefined) return machine.status;
  if (exit.code === qemuStatusForExitByte(EXIT_BYTE.failed) && machine.failure) {
    throw new SandboxError(machine.failure.step, `${machine.failure.message} ${where}`);
  }
  if (machine.step === 'qemu' || (machine.step === 'boot' && exit.code !== 0)) {
    const reason = exit.stderr.split('\n').filter((line) => line.trim() && !/warning:/i.test(line)).pop() ?? `exit status ${exit.code}`;
    throw new SandboxError(machine.step, `${QEMU} failed: ${reason} ${where}`);
  }
  const panic = machine.kernelPanic();
  throw new SandboxError(machine.step, `the emulated machine stopped (QEMU status ${exit.code}) without a result${panic ? `: ${panic}` : ''} ${where}`);
}

export async function runInSandbox(opts: SandboxRunOptions): Promise<SandboxRunResult> {
  const paths = opts.paths ?? sandboxPaths();
  const kernel = checkKernel(paths);
  const initramfs = ensureInitramfs(paths, kernel);
  const cwd = resolve(opts.cwd ?? process.cwd());
  if (!existsSync(cwd)) throw new SandboxError('command', `working directory ${cwd} does not exist (inside, it is the host's path)`);
  const ownRunDir = opts.runDir === undefined;
  const runDir = ownRunDir ? mkdtempSync(join(tmpdir(), 'rrkit-kvm-sandbox-')) : resolve(opts.runDir!);
  if (!existsSync(runDir)) throw new SandboxError('qemu', `run directory ${runDir} does not exist`);
  writeFileSync(join(runDir, JOB_FILE), jobScript({ command: opts.command, cwd, env: sandboxEnvironment(process.env, opts.env) }));

  const consoleSocket = join(runDir, 'console.sock');
  const args = qemuArgs({ vmlinux: paths.vmlinux, initramfs: initramfs.path, runDir, consoleSocket, memoryMiB: opts.memoryMiB ?? DEFAULT_MEMORY_MIB });
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const watch = opts.onConsole ?? (process.env[VERBOSE_VARIABLE] === '1' ? (line: string) => process.stderr.write(`[sandbox] ${line}\n`) : () => {});
  watch(`$ ${[QEMU, ...args].map((a) => (/\s/.test(a) ? shellQuote(a) : a)).join(' ')}`);

  const machine = await ConsoleFollower.listen(consoleSocket, join(runDir, 'console.log'), watch);
  try {
    const exit = await runQemu(opts.qemu ?? QEMU, args, opts.onOutput ?? ((chunk) => process.stdout.write(chunk)), timeoutMs);
    await machine.drained();
    const status = verdict(exit, machine, timeoutMs);
    if (ownRunDir) rmSync(runDir, { recursive: true, force: true });
    return { status, stepTimesMs: machine.stepTimesMs, totalMs: machine.elapsedMs };
  } finally {
    machine.close();
  }
}
