/** Logs for tests, written by the C++ writer through the addon (no engine needed). */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { native, type NativeLogHeader } from '../src/native.js';

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'rrkit-log-'));
}

export function header(vcpus: number): NativeLogHeader {
  return {
    engine: 'emu',
    imageHash: 'ab'.repeat(32),
    imagePath: 'guests/rv64/build/spin.elf',
    vcpus,
    ramMib: 128,
    crewGranularity: 4096,
    checkpointInterval: 1_000_000n,
    startUnixMs: 1_700_000_000_000n,
    configJson: '{"timer_hz":1000}',
  };
}

const checkpoint = (counts: bigint[], salt: bigint) => ({
  vcpus: counts.map((count, i) => ({ count, registerHash: (salt * 0x9e3779b97f4a7c15n + BigInt(i)) & 0xffffffffffffffffn })),
  memoryHash: salt ^ 0xfeedfacecafebeefn,
});

/** A two-vCPU run with every record kind: a timer, clock reads, SC failures, CREW traffic, serialized turns, wall-clock samples. */
export function sampleRecords(): object[] {
  const records: object[] = [];
  for (let t = 1n; t <= 40n; t++) {
    for (const vcpu of [0, 1]) {
      const count = t * 100_000n + BigInt(vcpu) * 7n;
      records.push({ type: 'interrupt', vcpu, count, cause: 7n });
      records.push({ type: 'input', vcpu, count: count + 12n, kind: 1, value: t * 10_000n });
    }
    if (t % 5n === 0n) records.push({ type: 'rare-outcome', vcpu: 1, count: t * 100_000n + 50n, kind: 6, value: 1n });
    records.push({
      type: 'crew-transfer',
      page: 0x80042n + (t % 3n),
      from: { vcpu: Number(t % 2n), count: t * 100_000n + 60n },
      to: { vcpu: Number((t + 1n) % 2n), count: t * 100_000n + 70n },
    });
    if (t % 10n === 0n) records.push({ type: 'checkpoint', ...checkpoint([t * 100_000n + 80n, t * 100_000n + 90n], t) });
    // vCPU 1 waits for a page for 30 µs, then runs again (wall-clock samples, record --wall-samples).
    if (t % 8n === 0n) {
      records.push({ type: 'host-time', vcpu: 1, count: t * 100_000n + 70n, ns: t * 1_000_000n, activity: 2 });
      records.push({ type: 'host-time', vcpu: 1, count: t * 100_000n + 70n, ns: t * 1_000_000n + 30_000n, activity: 1 });
    }
  }
  records.push({ type: 'input', vcpu: 0, count: 4_100_000n, kind: 2, value: 0xffffffffffffffffn });
  records.push({ type: 'dma-write', vcpu: 0, count: 4_100_010n, address: 0x80001000n, data: Uint8Array.from([1, 2, 3]) });
  records.push({ type: 'delayed-interrupt', vcpu: 1, count: 4_100_020n, cause: 0x20n, delayNs: 31_000n });
  records.push({ type: 'disk-read', vcpu: 0, count: 4_100_030n, address: 0x200000n, diskOffset: 1024n, length: 65536n });
  records.push({ type: 'crew-fault', vcpu: 1, count: 4_100_040n, page: 0x80043n, write: true, edges: 2n });
  records.push({ type: 'crew-fault', vcpu: 0, count: 4_100_050n, page: 0x7fffffffffffffffn, write: false, edges: 0n });
  // Serialized mode: both vCPUs join group 0, vCPU 0 takes the first turn, then passes it.
  records.push({ type: 'mode-switch', vcpu: 1, count: 4_100_060n, group: 0n, serialized: true });
  records.push({ type: 'mode-switch', vcpu: 0, count: 4_100_070n, group: 0n, serialized: true });
  records.push({ type: 'turn-switch', vcpu: 0, count: 4_100_070n, next: 0 });
  records.push({ type: 'turn-switch', vcpu: 0, count: 4_150_000n, next: 1 });
  records.push({ type: 'machine-stop', vcpu: 1, count: 4_200_000n, exitCode: -3n, ...checkpoint([4_199_000n, 4_200_000n], 99n), outputBytes: 31n, outputHash: 0xfeedn });
  return records;
}

export function writeLog(
  path: string,
  options: { close?: boolean; maxChunkBytes?: number; records?: object[]; deflateLevel?: number } = {},
): Buffer {
  native().logWrite(path, {
    header: header(2),
    records: options.records ?? sampleRecords(),
    close: options.close ?? true,
    maxChunkBytes: options.maxChunkBytes ?? 256,
    ...(options.deflateLevel === undefined ? {} : { deflateLevel: options.deflateLevel }),
  });
  return readFileSync(path);
}
