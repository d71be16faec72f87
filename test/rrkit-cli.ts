/**
 * The checkout's `bin/rrkit`, run as a user runs it, for tests of the command line: its
 * output and exit status, never a rejection — except a run that outlives `timeoutMs`, which
 * is a hang and an error.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../src/guests/catalog.js';

const execFileAsync = promisify(execFile);
const RRKIT = join(REPO_ROOT, 'bin', 'rrkit');

export interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

export async function runRrkit(args: readonly string[], timeoutMs = 60_000): Promise<Ran> {
  try {
    const { stdout, stderr } = await execFileAsync(RRKIT, [...args], { timeout: timeoutMs, maxBuffer: 64 << 20 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout: string; stderr: string; killed?: boolean };
    if (e.killed) throw new Error(`rrkit ${args.join(' ')} hung`);
    return { code: e.code ?? -1, stdout: e.stdout, stderr: e.stderr };
  }
}
