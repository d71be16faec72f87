/**
 * KVM works where the KVM tests run: a small C program (kvm-probe.c), compiled here with the
 * system C compiler, runs a real-mode guest on /dev/kvm. Like every file under test/kvm/, it
 * assumes a usable /dev/kvm and fails without one: on a host without, npm test runs this
 * directory inside the sandbox (test/kvm-sandbox/, docs/testing.md).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const execFileAsync = promisify(execFile);
const SOURCE = join(dirname(fileURLToPath(import.meta.url)), 'kvm-probe.c');

describe('kvm probe', () => {
  let dir: string;
  let probe: string;

  beforeAll(async () => {
    // No -O: the probe is tiny, and unoptimised compiles are 3x quicker in the emulated machine.
    dir = mkdtempSync(join(tmpdir(), 'rrkit-kvm-probe-'));
    probe = join(dir, 'kvm-probe');
    await execFileAsync('cc', ['-std=c11', '-Wall', '-Wextra', '-Werror', '-o', probe, SOURCE]);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('runs a real-mode guest to its hlt, with its port writes and its store seen by the host', async () => {
    const result = await execFileAsync(probe).catch((error: { stdout?: string; message: string }) => {
      throw new Error(`kvm-probe failed: ${error.stdout?.trim() || error.message}`);
    });
    expect(result.stdout.trim().split('\n')).toEqual([
      'api 12',
      'exit io out port 0x10 size 1 value 0x35',
      'exit io out port 0x11 size 1 value 0x13',
      'exit hlt',
      'memory 0x2000 0x1335',
    ]);
  });
});
