/**
 * The rrkit command on the kvm engine (needs /dev/kvm; fails without it): the engine chosen
 * from the ELF's machine type, `demo --engine kvm`, the disk options and their one-line
 * errors, and the interrupt delays in `log stats`.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { EXIT } from '../../src/cli/exit-status.js';
import { builtGuestPath, REPO_ROOT } from '../../src/guests/catalog.js';
import { writeDiskImage } from '../../src/guests/disk-image.js';
import { logFileStats } from '../../src/analysis/log-stats.js';
import { verify } from '../../src/session/verify.js';
import { logFolder } from '../kept-logs.js';

const execFileAsync = promisify(execFile);
const rrkit = join(REPO_ROOT, 'bin', 'rrkit');

async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return execFileAsync(rrkit, args, { maxBuffer: 1 << 22 }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );
}

describe('rrkit on the kvm engine', () => {
  it('runs an x86_64 ELF on kvm without --engine, and a disk workload with its disk', async () => {
    const dir = logFolder('kvm-cli-run');
    const plain = await run(['run', '--stats', builtGuestPath('matmul', 'x86_64', true)]);
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stdout).toMatch(/^matmul: ok /);
    expect(plain.stderr).toMatch(/^rrkit: exit 0, exits \d+, /m);
    const disk = join(dir, 'disk.img');
    await writeDiskImage(disk, 256);
    const withDisk = await run(['run', 'disk-checksum.small', '--disk', disk]);
    expect(withDisk.code, withDisk.stderr).toBe(0);
    expect(withDisk.stdout).toMatch(/^disk-checksum: ok sectors=256 /);
    const missing = await run(['run', 'disk-checksum.small', '--disk', join(dir, 'missing.img')]);
    expect(missing.code).toBe(EXIT.usage);
    expect(missing.stderr.trim().split('\n'), missing.stderr).toHaveLength(1);
    expect(missing.stderr).toMatch(/--disk .*missing\.img: no such file/);
  });

  it('demo --engine kvm records, replays and verifies, and says how long interrupts waited', async () => {
    const demo = await run(['demo', '--engine', 'kvm', '--small']);
    expect(demo.code, demo.stderr).toBe(0);
    expect(demo.stderr).toMatch(/on the kvm engine, 1 vCPU/);
    expect(demo.stderr).toMatch(/guest said {8}disk-checksum: ok /);
    expect(demo.stderr).toMatch(/verify {12}identical: /);
    expect(demo.stderr).toMatch(/interrupt delay {3}median [\d.]+ µs/);
  });

  it('record --disk-shared, then verify and log stats; verify with a missing disk is one line', async () => {
    const dir = logFolder('kvm-cli-disk');
    const disk = join(dir, 'disk.img');
    await writeDiskImage(disk, 256);
    const log = join(dir, 'shared.rrlog');
    const recorded = await run(['record', 'disk-checksum.small', '--disk', disk, '--disk-shared', '-o', log]);
    expect(recorded.code, recorded.stderr).toBe(0);
    expect(recorded.stderr).toMatch(/^rrkit: recorded .* \d+ exits in /m);
    // In this process (each rrkit process costs seconds inside the emulated machine).
    const { verdict } = await verify({ logPath: log });
    expect(verdict.verdict).toBe('identical');
    const stats = logFileStats(log);
    expect(stats.engine).toBe('kvm');
    expect(stats.landmarkUnit).toBe('exits');
    expect(stats.byType['disk-read']?.events).toBeGreaterThan(0);
    expect(stats.byType['dma-write']).toBeUndefined();
    expect(stats.interruptDelay?.interrupts).toBe(stats.byType['delayed-interrupt']?.events);

    // (Options wrong before anything runs: test/record-replay-bad-input.test.ts.)
    const missing = await run(['verify', log, '--disk', join(dir, 'missing.img')]);
    expect(missing.code).toBe(EXIT.usage);
    expect(missing.stderr.trim().split('\n'), missing.stderr).toHaveLength(1);
    expect(missing.stderr).toMatch(/missing\.img: no such file/);
  });
});
