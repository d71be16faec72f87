/**
 * Uniprocessor record/replay on the kvm engine (needs a working /dev/kvm: these tests fail,
 * never skip, without one; machines without it run them inside QEMU, test/kvm-sandbox).
 * Every x86_64 workload (small size) is recorded, replayed and verified: console output,
 * exit code, exit count and final state hash identical; deterministic workloads print the
 * same result line as on emu.
 */
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { readLogFile } from '../../src/analysis/log-reader.js';
import { kvmAvailability } from '../../src/engines/kvm.js';
import { builtGuestPath, GUESTS_DIR, WORKLOADS } from '../../src/guests/catalog.js';
import { writeDiskImage } from '../../src/guests/disk-image.js';
import { native } from '../../src/native.js';
import { record } from '../../src/session/record.js';
import { replay } from '../../src/session/replay.js';
import { runGuest } from '../../src/session/run.js';
import { logFolder } from '../kept-logs.js';

const CONSOLE_INPUT = Buffer.from('hello rrkit\nrecord and replay\nend\n');
/** Small workloads make tens to thousands of exits: check often. */
const CHECKPOINT_INTERVAL = 20n;

function resultLine(name: string, output: string): string | undefined {
  return output.split('\n').find((line) => line.startsWith(`${name}: `));
}

beforeAll(() => {
  const kvm = kvmAvailability();
  // A machine without /dev/kvm runs this directory inside QEMU (npm run test:kvm).
  expect(kvm.available, kvm.reason).toBe(true);
});

describe('every x86_64 workload, recorded and replayed on kvm', () => {
  for (const workload of WORKLOADS) {
    test(`${workload.name}: replay identical to the recording`, async () => {
      const dir = logFolder(`kvm-${workload.name}`);
      const disk = workload.needsDisk ? join(dir, 'disk.img') : undefined;
      if (disk !== undefined) await writeDiskImage(disk, 512);
      const logPath = join(dir, `${workload.name}.rrlog`);
      const recorded = await record({
        elf: builtGuestPath(workload.name, 'x86_64', true),
        logPath,
        capture: true,
        checkpointInterval: CHECKPOINT_INTERVAL,
        input: workload.needsConsoleInput ? { kind: 'bytes', data: CONSOLE_INPUT } : { kind: 'none' },
        timeoutSeconds: 60,
        disk,
      });
      const output = recorded.console.toString();
      expect(resultLine(workload.name, output), output).toMatch(new RegExp(`^${workload.name}: ok\\b`));
      expect(recorded.exitCode).toBe(0);

      const log = readLogFile(logPath);
      expect(log.complete).toBe(true);
      expect(log.header.engine).toBe('kvm');
      const checkpoints = log.records.filter((r) => r.type === 'checkpoint').length;
      const exits = recorded.vcpus[0]!.landmark;
      expect(checkpoints).toBe(Number(exits / CHECKPOINT_INTERVAL));

      const replayed = await replay({ logPath, capture: true, timeoutSeconds: 60 });
      expect(replayed.kind, JSON.stringify(replayed.kind === 'diverged' ? replayed.report : {}, (_k, v) => (typeof v === 'bigint' ? `${v}` : v))).toBe('exited');
      expect(replayed.result.console.equals(recorded.console)).toBe(true);
      expect(replayed.result.exitCode).toBe(recorded.exitCode);
      expect(replayed.result.stateHash).toBe(recorded.stateHash);
      expect(replayed.result.vcpus[0]!.landmark).toBe(exits);
    });
  }
});

describe('interrupts at exits replay exactly', () => {
  test('a 50 kHz timer on a guest that reads the clock in a loop: an interrupt after nearly every exit, each replayed there', async () => {
    const dir = logFolder('kvm-interrupt-storm');
    const logPath = join(dir, 'storm.rrlog');
    const elf = join(GUESTS_DIR, 'build', 'x86_64', 'kvm-tests', 'interrupt-storm.elf');
    const recorded = await record({ elf, logPath, capture: true, checkpointInterval: 50n, timeoutSeconds: 60 });
    const line = resultLine('interrupt-storm', recorded.console.toString());
    expect(line).toMatch(/^interrupt-storm: ok ticks=\d+ /);
    const log = readLogFile(logPath);
    const interrupts = log.records.filter((r) => r.type === 'delayed-interrupt');
    expect(interrupts.length).toBe(Number(/ticks=(\d+)/.exec(line!)![1]));
    expect(interrupts.length).toBeGreaterThan(100); // ~3000 here (an exit costs more than the 20 µs period); fewer where exits are cheap
    const replayed = await replay({ logPath, capture: true, timeoutSeconds: 60 });
    expect(replayed.kind).toBe('exited');
    expect(replayed.result.console.equals(recorded.console)).toBe(true);
    expect(replayed.result.stateHash).toBe(recorded.stateHash);
  });
});

describe('the log streams in as the kvm replay reaches it', () => {
  // Interrupts, DMA data, inputs and checkpoints spread over many chunks: each chunk is read
  // only when the replay has reached the exits before it.
  for (const [name, minChunks] of [['disk-checksum', 5], ['entropy-mix', 20]] as const) {
    test(`${name} rewritten into chunks of a few records: replayed exactly, every chunk read once`, async () => {
      const dir = logFolder(`kvm-streaming-${name}`);
      const disk = name === 'disk-checksum' ? join(dir, 'disk.img') : undefined;
      if (disk !== undefined) await writeDiskImage(disk, 512);
      const original = join(dir, `${name}.rrlog`);
      const recorded = await record({
        elf: builtGuestPath(name, 'x86_64', true),
        logPath: original,
        capture: true,
        checkpointInterval: CHECKPOINT_INTERVAL,
        timeoutSeconds: 60,
        disk,
      });
      const log = readLogFile(original);
      const small = join(dir, 'small-chunks.rrlog');
      native().logWrite(small, { header: log.header, records: [...log.records], close: true, maxChunkBytes: 64 });
      const chunks = readLogFile(small).chunks.length;
      expect(chunks).toBeGreaterThanOrEqual(minChunks);
      const replayed = await replay({ logPath: small, capture: true, timeoutSeconds: 60 });
      expect(replayed.kind).toBe('exited');
      expect(replayed.result.console.equals(recorded.console)).toBe(true);
      expect(replayed.result.stateHash).toBe(recorded.stateHash);
      expect(replayed.log.chunks).toBe(chunks);
      expect(replayed.log.records).toBe(log.records.length);
      // A complete log replayed with --then-run ends with the guest: nothing goes live.
      const thenRun = await replay({ logPath: small, thenRun: {}, capture: true, timeoutSeconds: 60, disk });
      expect(thenRun.kind).toBe('exited');
      expect(thenRun.result.stateHash).toBe(recorded.stateHash);
    });
  }
});

describe('the same result line on emu and kvm', () => {
  for (const workload of WORKLOADS.filter((w) => w.deterministic && !w.needsDisk)) {
    test(workload.name, async () => {
      const input = { kind: 'bytes' as const, data: workload.needsConsoleInput ? CONSOLE_INPUT : Buffer.alloc(0) };
      const emu = await runGuest({ elf: builtGuestPath(workload.name, 'rv64', true), capture: true, input, timeoutSeconds: 60 });
      const kvm = await record({
        elf: builtGuestPath(workload.name, 'x86_64', true),
        logPath: join(logFolder(`kvm-emu-${workload.name}`), 'run.rrlog'),
        capture: true,
        input,
        timeoutSeconds: 60,
      });
      const line = resultLine(workload.name, kvm.console.toString());
      expect(line).toMatch(new RegExp(`^${workload.name}: ok\\b`));
      expect(line).toBe(resultLine(workload.name, emu.console.toString()));
    });
  }
});
