/**
 * Uniprocessor record/replay cost on the emu engine, measured side by side in one run:
 * for each workload (full size, 1 vCPU), rounds of plain run, record and replay, so that
 * all three see the same machine load; the best round of each wins. Reports record/plain
 * and replay/plain (targets: ≤ 1.10 each) and log bytes per 1000 instructions (target for
 * compute workloads with the 1 kHz timer: ≤ 1).
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runGuest } from '../src/session/run.js';
import { builtGuestPath } from '../src/guests/catalog.js';
import { scanLogFile } from '../src/analysis/log-reader.js';
import { record } from '../src/session/record.js';
import { replay } from '../src/session/replay.js';
import { secondsSince } from './timing.js';

export interface RecordReplayRow {
  workload: string;
  instructions: bigint;
  plainSeconds: number;
  recordSeconds: number;
  replaySeconds: number;
  logBytes: number;
  events: number;
}

const WORKLOADS = ['matmul', 'fft', 'radix-sort', 'sha256', 'timer-ticks', 'entropy-mix'];

export async function benchRecordReplay(repeats = 3, workloads = WORKLOADS): Promise<RecordReplayRow[]> {
  const dir = mkdtempSync(join(tmpdir(), 'rrkit-bench-'));
  const rows: RecordReplayRow[] = [];
  try {
    for (const workload of workloads) {
      const elf = builtGuestPath(workload, 'rv64');
      const logPath = join(dir, `${workload}.rrlog`);
      let best: RecordReplayRow | undefined;
      for (let round = 0; round < repeats; round++) {
        let t = process.hrtime.bigint();
        await runGuest({ elf, capture: true });
        const plainSeconds = secondsSince(t);
        t = process.hrtime.bigint();
        const recorded = await record({ elf, logPath, force: true, capture: true });
        const recordSeconds = secondsSince(t);
        t = process.hrtime.bigint();
        const replayed = await replay({ logPath, capture: true });
        const replaySeconds = secondsSince(t);
        if (replayed.kind !== 'exited') throw new Error(`${workload}: replay ${replayed.kind}`);
        const row: RecordReplayRow = {
          workload,
          instructions: recorded.vcpus[0]!.landmark,
          plainSeconds: Math.min(plainSeconds, best?.plainSeconds ?? Infinity),
          recordSeconds: Math.min(recordSeconds, best?.recordSeconds ?? Infinity),
          replaySeconds: Math.min(replaySeconds, best?.replaySeconds ?? Infinity),
          logBytes: statSync(logPath).size,
          events: scanLogFile(logPath, () => {}).chunks.reduce((sum, chunk) => sum + chunk.records, 0),
        };
        best = row;
      }
      rows.push(best!);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

export function formatRecordReplay(rows: readonly RecordReplayRow[]): string {
  const header = 'workload        instructions   plain s  record/plain  replay/plain  log bytes  events  B/1000 instr';
  const lines = rows.map((r) =>
    [
      r.workload.padEnd(14),
      r.instructions.toString().padStart(14),
      r.plainSeconds.toFixed(3).padStart(9),
      (r.recordSeconds / r.plainSeconds).toFixed(2).padStart(13),
      (r.replaySeconds / r.plainSeconds).toFixed(2).padStart(13),
      String(r.logBytes).padStart(10),
      String(r.events).padStart(7),
      ((r.logBytes * 1000) / Number(r.instructions)).toFixed(4).padStart(13),
    ].join(' '),
  );
  return [header, ...lines, 'targets: record/plain ≤ 1.10, replay/plain ≤ 1.10, ≤ 1 B per 1000 instructions (compute, 1 kHz timer)'].join('\n');
}
