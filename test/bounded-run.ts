/**
 * Runs the rrkit command as a user would, and measures what it took: its exit status, its
 * output, its wall time and its peak memory (the child's maxrss, from getrusage through a
 * small python3 wrapper, python3 being one of setup.sh's packages). A run that passes
 * `timeoutMs` is killed and reported as such, so a test of "bounded time" fails instead of
 * hanging.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from '../src/guests/catalog.js';

export const RRKIT = join(REPO_ROOT, 'bin', 'rrkit');

// argv: timeout seconds, address-space limit in MiB, then the command. Prints
// "maxrss-kib N timed-out B" on fd 3.
const WRAPPER = `
import os, resource, subprocess, sys
timeout = float(sys.argv[1])
limit = int(sys.argv[2]) * 1024 * 1024
def limit_memory():
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
timed_out = False
child = subprocess.Popen(sys.argv[3:], stdin=subprocess.DEVNULL, preexec_fn=limit_memory)
try:
    child.wait(timeout=timeout)
except subprocess.TimeoutExpired:
    timed_out = True
    child.kill()
    child.wait()
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
os.write(3, f"maxrss-kib {usage.ru_maxrss} timed-out {int(timed_out)}\\n".encode())
code = child.returncode
sys.exit(code if code >= 0 else 128 - code)
`;

export interface BoundedRun {
  code: number;
  stdout: string;
  stderr: string;
  /** peak resident memory of the command, MiB */
  maxRssMiB: number;
  seconds: number;
  timedOut: boolean;
}

export interface BoundedRunOptions {
  timeoutMs?: number;
  /**
   * The command's address space (RLIMIT_AS), MiB; default RRKIT_TEST_ADDRESS_SPACE_MIB or
   * 8 GiB. A safety net, so that a command that reads without end fails here instead of
   * taking the machine's memory; the tests' own bound is on the peak resident memory, far lower.
   */
  addressSpaceMiB?: number;
  cwd?: string;
  /** keep at most this much of stdout (the rest is counted, not kept) */
  keepStdoutBytes?: number;
}

/** Runs `rrkit ARGS...`, or any command when `command` is given. */
export function runBounded(args: readonly string[], options: BoundedRunOptions = {}, command = RRKIT): Promise<BoundedRun> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const keep = options.keepStdoutBytes ?? 1 << 20;
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn('python3', ['-c', WRAPPER, String(timeoutMs / 1000), String(options.addressSpaceMiB ?? (Number(process.env['RRKIT_TEST_ADDRESS_SPACE_MIB']) || 8192)), command, ...args], {
      cwd: options.cwd ?? REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let report = '';
    child.stdout!.on('data', (data: Buffer) => {
      if (stdout.length < keep) stdout += data.toString('utf8').slice(0, keep - stdout.length);
    });
    child.stderr!.on('data', (data: Buffer) => (stderr += data.toString('utf8')));
    (child.stdio[3] as NodeJS.ReadableStream).on('data', (data: Buffer) => (report += data.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => {
      const match = /maxrss-kib (\d+) timed-out (\d)/.exec(report);
      if (match === null) {
        reject(new Error(`the measuring wrapper reported nothing (status ${code}): ${stderr}`));
        return;
      }
      resolve({
        code: code ?? -1,
        stdout,
        stderr,
        maxRssMiB: Number(match[1]) / 1024,
        seconds: (Date.now() - started) / 1000,
        timedOut: match[2] === '1',
      });
    });
  });
}
