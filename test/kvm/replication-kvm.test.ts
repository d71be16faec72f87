/**
 * Replication on the kvm engine, as processes on loopback: the failover drill with the
 * primary SIGKILLed part way through on 1 and 2 vCPUs (each of clock-poll's numbered lines
 * exactly once, in order), a guest reading its disk across the switchover (the primary dying
 * mid-frame), and a backup whose disk
 * image differs from the primary's refused at connect. Needs a working /dev/kvm (never
 * skips); in the QEMU sandbox loopback is up (test/kvm-sandbox/init-script.ts).
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, test } from 'vitest';
import { kvmAvailability } from '../../src/engines/kvm.js';
import { REPO_ROOT } from '../../src/guests/catalog.js';
import { writeDiskImage } from '../../src/guests/disk-image.js';
import { logFolder } from '../kept-logs.js';

const execFileAsync = promisify(execFile);
const RRKIT = join(REPO_ROOT, 'bin', 'rrkit');
const LINES = 400; // clock-poll: a line every 5 ms, 2 s in all
/**
 * Longer than test/replication.test.ts's 1 s: in the QEMU sandbox (one emulated CPU, Node
 * 3–20× slower) a replica can go unscheduled for over a second, and a backup dropped as
 * silent can no longer take over. The test timeouts below only catch hangs (the sandbox
 * on a loaded host takes minutes for what takes seconds here).
 */
const HEARTBEAT = ['--heartbeat-timeout', '3000'];
const HANG_MS = 300_000;

beforeAll(() => {
  const kvm = kvmAvailability();
  expect(kvm.available, kvm.reason).toBe(true);
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function rrkit(args: string[]): Promise<Run> {
  try {
    const { stdout, stderr } = await execFileAsync(RRKIT, args, { maxBuffer: 64 << 20, timeout: HANG_MS });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('rrkit replicate --engine kvm', () => {
  test.each([{ vcpus: 1 }, { vcpus: 2 }])(
    'on $vcpus vCPU(s), the primary killed part way: the backup replays what it received, all its vCPUs go live together, and every line comes once, in order',
    async ({ vcpus }) => {
      const kill = 300 + Math.floor(Math.random() * 1200);
      const r = await rrkit(['replicate', '--engine', 'kvm', '--vcpus', String(vcpus), '--backups', '1', '--kill-primary-after', String(kill), ...HEARTBEAT, 'clock-poll']);
      const context = `kill after ${kill} ms; stderr:\n${r.stderr}`;
      const lines = r.stdout.split('\n').filter((l) => l !== '');
      const numbers = lines.filter((l) => l.startsWith('line ')).map((l) => Number(l.slice(5)));
      expect(numbers, context).toEqual(Array.from({ length: LINES }, (_, i) => i + 1));
      expect(lines.at(-1), context).toBe(`clock-poll: ok lines=${LINES} backwards=0`);
      expect(r.code, context).toBe(0);
      expect(r.stderr).toMatch(/SIGKILL primary/);
      // The takeover is by a kvm replay going live: its first live instruction is reported.
      expect(r.stderr, context).toMatch(/epoch 1: 127\.0\.0\.1:\d+ took over \d+ ms after the kill; first live instruction \d+ ms after the kill/);
      expect(r.stderr).toMatch(/lost \(gaps\): 0 bytes/);
    },
    HANG_MS,
  );

  test('a guest reading its disk: the primary dies mid-frame, the backup replays the reads it received and reads the rest from its own copy', async () => {
    const dir = logFolder('kvm-replicate-disk');
    const disk = join(dir, 'disk.img');
    await writeDiskImage(disk, 8192); // 4 MiB: 64 reads of 64 KiB, each about one 64 KiB chunk of the log
    const r = await rrkit(['replicate', '--engine', 'kvm', '--disk', disk, '--backups', '1', '--die-mid-frame', '20', ...HEARTBEAT, 'disk-checksum']);
    const context = `stderr:\n${r.stderr}`;
    expect(r.stdout, context).toMatch(/^disk-checksum: ok sectors=8192 requests=64 fnv=[0-9a-f]{16}\n$/);
    expect(r.code, context).toBe(0);
    const took = /replaying the 20 frames received \((\d+) records/.exec(r.stderr);
    expect(took, context).not.toBeNull();
    expect(Number(took![1])).toBeGreaterThan(10); // reads replayed from the log before it went live
    expect(r.stderr, context).toMatch(/epoch 1: \S+ took over/);
  }, HANG_MS);

  test('a backup whose disk image differs is refused at connect, in one line', async () => {
    const dir = logFolder('kvm-replica-disk-mismatch');
    const [mine, theirs] = [join(dir, 'a.img'), join(dir, 'b.img')];
    await writeDiskImage(mine, 64, 1);
    await writeDiskImage(theirs, 64, 2);
    const lease = mkdtempSync(join(tmpdir(), 'rrkit-lease-'));
    const backup = spawn(RRKIT, ['replica', 'backup', '--listen', '127.0.0.1:0', '--lease', lease, '--disk', theirs, 'disk-checksum'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    try {
      const address = await new Promise<string>((resolve, reject) => {
        let text = '';
        backup.stderr.on('data', (b: Buffer) => {
          text += b.toString();
          const m = /listening on (\S+)/.exec(text);
          if (m !== null) resolve(m[1]!);
        });
        backup.on('exit', () => reject(new Error(`the backup ended: ${text}`)));
      });
      const p = await rrkit(['replica', 'primary', '--backup', address, '--lease', lease, '--disk', mine, 'disk-checksum']);
      expect(p.code).toBe(2);
      expect(p.stderr).toMatch(
        new RegExp(`^rrkit replica: backup ${address.replace(/\./g, '\\.')} refused the primary: disk image mismatch: the primary's disk is sha256 [0-9a-f]{16}…, this backup has \\S*b\\.img \\(sha256 [0-9a-f]{16}…\\)$`, 'm'),
      );
    } finally {
      backup.kill('SIGKILL');
    }
  }, HANG_MS);
});
