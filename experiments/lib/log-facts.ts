/**
 * What the figures read from a recording's log (through src/analysis/, the one log reader):
 * CREW transfers, kvm's interrupt delays, and the log's size before and after compression
 * where its chunks are compressed. Runs in the analysis pool, never beside a timed trial.
 */
import { statSync } from 'node:fs';
import { scanLogFile } from '../../src/analysis/log-reader.js';

export interface LogFacts {
  fileBytes: number;
  records: number;
  crewTransfers: number;
  /** every delayed-interrupt record's delay (kvm takes interrupts only at exits), in µs */
  interruptDelaysUs: number[];
  /**
   * the chunks' payloads once decoded, and as stored, when this commit's log format says
   * both (compressed chunks); null when it stores payloads as they are
   */
  payloadBytes: number | null;
  storedBytes: number | null;
}

/** A chunk as some log format versions describe it: stored and decoded sizes apart only where chunks are compressed. */
interface ChunkSizes {
  payloadBytes: number;
  storedBytes?: number;
}

export function logFacts(path: string): LogFacts {
  let records = 0;
  let crewTransfers = 0;
  const interruptDelaysUs: number[] = [];
  const outline = scanLogFile(path, (record) => {
    records++;
    if (record.type === 'crew-transfer') crewTransfers++;
    else if (record.type === 'delayed-interrupt') interruptDelaysUs.push(Number(record.delayNs) / 1000);
  });
  const chunks = outline.chunks as readonly ChunkSizes[];
  const compressed = chunks.length > 0 && chunks.every((c) => typeof c.storedBytes === 'number');
  return {
    fileBytes: statSync(path).size,
    records,
    crewTransfers,
    interruptDelaysUs,
    payloadBytes: compressed ? chunks.reduce((sum, c) => sum + c.payloadBytes, 0) : null,
    storedBytes: compressed ? chunks.reduce((sum, c) => sum + c.storedBytes!, 0) : null,
  };
}
