/**
 * Runs one command in the sandbox: checks the cached kernel, refreshes the initramfs, writes
 * the job into a run directory, boots QEMU, streams the command's output, follows /init's
 * steps on the console and returns the command's exit status, or throws a SandboxError
 * naming the step that failed.
 */
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { EXIT_BYTE, parseConsoleLine, qemuStatusForExitByte, type SandboxStep } from './console-protocol.js';
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
const CONSOLE_TAIL_LINES = 40;

/** The kernel's own word on why it stopped, if the console tail has one. */
function kernelPanic(lines: readonly string[]): string | undefined {
  return lines.find((line) => /Kernel panic|Oops|BUG:/.test(line))?.trim();
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
  const consoleLogPath = join(runDir, 'console.log');
  const consoleSocket = join(runDir, 'console.sock');
  const onOutput = opts.onOutput ?? ((chunk: Buffer) => process.stdout.write(chunk));
  const onConsole = opts.onConsole ?? (process.env[VERBOSE_VARIABLE] === '1' ? (line: string) => process.stderr.write(`[sandbox] ${line}\n`) : () => {});
  const args = qemuArgs({ vmlinux: paths.vmlinux, initramfs: initramfs.path, runDir, consoleSocket, memoryMiB: opts.memoryMiB ?? DEFAULT_MEMORY_MIB });
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  onConsole(`$ ${[QEMU, ...args].map((a) => (/\s/.test(a) ? shellQuote(a) : a)).join(' ')}`);

  const consoleLog = createWriteStream(consoleLogPath);
  const tail: string[] = [];
  const stepTimesMs: SandboxRunResult['stepTimesMs'] = {};
  let step: SandboxStep = 'qemu';
  let status: number | undefined;
  let failure: { step: SandboxStep; message: string } | undefined;
  const started = performance.now();

  const consoleLine = (line: string) => {
    consoleLog.write(`${line}\n`);
    tail.push(line);
    if (tail.length > CONSOLE_TAIL_LINES) tail.shift();
    onConsole(line);
    const event = parseConsoleLine(line);
    if (event?.kind === 'step') {
      step = event.step;
      stepTimesMs[event.step] = Math.round(performance.now() - started);
    } else if (event?.kind === 'failed') failure = event;
    else if (event?.kind === 'status') status = event.status;
  };

  const server = createServer();
  const connections: Socket[] = [];
  server.on('connection', (socket) => {
    connections.push(socket);
    if (step === 'qemu') step = 'boot';
    let pending = '';
    socket.setEncoding('utf8').on('data', (text: string) => {
      const lines = (pending + text).split('\n');
      pending = lines.pop() ?? '';
      lines.forEach((line) => consoleLine(line.replace(/\r$/, '')));
    });
    socket.on('end', () => pending && consoleLine(pending));
  });
  await new Promise<void>((listening, failed) => server.once('error', failed).listen(consoleSocket, listening));

  let timedOut = false;
  try {
    const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((done, failed) => {
      const qemu = spawn(opts.qemu ?? QEMU, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      const killOnExit = () => qemu.kill('SIGKILL');
      process.once('exit', killOnExit);
      let stderr = '';
      qemu.stdout.on('data', onOutput);
      qemu.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
      const timer = setTimeout(() => {
        timedOut = true;
        qemu.kill('SIGKILL');
      }, timeoutMs);
      qemu.on('error', (error: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        process.off('exit', killOnExit);
        failed(
          error.code === 'ENOENT'
            ? new SandboxError('qemu', `${QEMU} is not installed: install qemu-system-x86 (./setup.sh does when /dev/kvm is not usable)`)
            : new SandboxError('qemu', `${QEMU} did not start: ${error.message}`),
        );
      });
      qemu.on('close', (code) => {
        clearTimeout(timer);
        process.off('exit', killOnExit);
        done({ code, stderr });
      });
    });
    // The console socket may still hold the last lines: wait for QEMU's end of it.
    await Promise.all(connections.map((socket) => new Promise((ended) => (socket.readableEnded ? ended(null) : socket.once('close', ended)))));
    const totalMs = Math.round(performance.now() - started);
    const where = `(console log: ${consoleLogPath})`;
    if (timedOut) throw new SandboxError(step, `timed out after ${Math.round(timeoutMs / 1000)} s ${where}`);
    if (code === qemuStatusForExitByte(EXIT_BYTE.done) && status !== undefined) {
      if (ownRunDir) rmSync(runDir, { recursive: true, force: true });
      return { status, stepTimesMs, totalMs };
    }
    if (code === qemuStatusForExitByte(EXIT_BYTE.failed) && failure) throw new SandboxError(failure.step, `${failure.message} ${where}`);
    if (step === 'qemu' || (step === 'boot' && code !== 0)) {
      const reason = stderr.split('\n').filter((line) => line.trim() && !/warning:/i.test(line)).pop() ?? `exit status ${code}`;
      throw new SandboxError(step, `${QEMU} failed: ${reason} ${where}`);
    }
    const panic = kernelPanic(tail);
    throw new SandboxError(step, `the emulated machine stopped (QEMU status ${code}) without a result${panic ? `: ${panic}` : ''} ${where}`);
  } finally {
    connections.forEach((socket) => socket.destroy());
    server.close();
    consoleLog.end();
  }
}
