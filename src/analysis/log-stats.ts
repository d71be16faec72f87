/**
 * Statistics of a log: what it holds, what each kind of event costs, and how dense it is
 * per million landmarks (instructions on emu, exits on kvm).
 */
import type { LogContents } from './log-reader.js';
import type { RecordType } from './log-records.js';

export interface TypeStats {
  events: number;
  bytes: number;
}

export interface CrewStats {
  transfers: number;
  perMillion: number;
  /** "A->B": transfers from vCPU A to vCPU B. */
  byPair: Record<string, number>;
  /** Most-transferred pages first (at most 10). */
  hottestPages: { page: string; where: string; transfers: number }[];
}

export interface LogStats {
  engine: string;
  vcpus: number;
  complete: boolean;
  chunks: number;
  bytes: number;
  records: number;
  byType: Partial<Record<RecordType, TypeStats>>;
  /** Sum over vCPUs of the last landmark count (instructions on emu, exits on kvm). */
  landmarks: string;
  landmarkUnit: 'instructions' | 'exits';
  bytesPerMillion: number | null;
  /** Recording time from the trailer; null when the log is incomplete. */
  durationMs: number | null;
  exitCode: string | null;
  crew: CrewStats | null;
}

/** emu's RAM starts here (docs/platform.md); CREW numbers pages from it. */
const EMU_RAM_BASE = 0x8000_0000n;

/**
 * Where a CREW page lies in the guest: its guest-physical address, or "devices" for the
 * one page after RAM that stands for the UART and CLINT (docs/crew.md).
 */
function pageLocation(header: LogContents['header'], page: bigint): string {
  if (header.engine !== 'emu' || header.crewGranularity === 0) return '';
  const granularity = BigInt(header.crewGranularity);
  const ramPages = (BigInt(header.ramMib) << 20n) / granularity;
  return page >= ramPages ? 'devices' : `guest 0x${(EMU_RAM_BASE + page * granularity).toString(16)}`;
}

export function logStats(log: LogContents): LogStats {
  const byType: Partial<Record<RecordType, TypeStats>> = {};
  const lastCount = new Array<bigint>(log.header.vcpus).fill(0n);
  const see = (vcpu: number, count: bigint): void => {
    if (count > lastCount[vcpu]!) lastCount[vcpu] = count;
  };
  let stopCounts: bigint[] | undefined;
  let exitCode: bigint | undefined;
  const pairs = new Map<string, number>();
  const pages = new Map<bigint, number>();
  let transfers = 0;

  log.records.forEach((record, i) => {
    const stats = (byType[record.type] ??= { events: 0, bytes: 0 });
    stats.events++;
    stats.bytes += log.recordBytes[i] ?? 0;
    switch (record.type) {
      case 'checkpoint':
        record.vcpus.forEach((v, vcpu) => see(vcpu, v.count));
        break;
      case 'machine-stop':
        stopCounts = record.vcpus.map((v) => v.count);
        exitCode = record.exitCode;
        break;
      case 'crew-transfer': {
        transfers++;
        see(record.from.vcpu, record.from.count);
        see(record.to.vcpu, record.to.count);
        const pair = `${record.from.vcpu}->${record.to.vcpu}`;
        pairs.set(pair, (pairs.get(pair) ?? 0) + 1);
        pages.set(record.page, (pages.get(record.page) ?? 0) + 1);
        break;
      }
      default:
        see(record.vcpu, record.count);
    }
  });

  const landmarks = (stopCounts ?? lastCount).reduce((a, b) => a + b, 0n);
  const millions = Number(landmarks) / 1e6;
  const perMillion = (n: number): number | null => (millions > 0 ? n / millions : null);
  const hottestPages = [...pages.entries()]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .slice(0, 10)
    .map(([page, count]) => ({ page: `0x${page.toString(16)}`, where: pageLocation(log.header, page), transfers: count }));

  return {
    engine: log.header.engine,
    vcpus: log.header.vcpus,
    complete: log.complete,
    chunks: log.chunks.length,
    bytes: log.bytes,
    records: log.records.length,
    byType,
    landmarks: landmarks.toString(),
    landmarkUnit: log.header.engine === 'kvm' ? 'exits' : 'instructions',
    bytesPerMillion: perMillion(log.bytes),
    durationMs: log.trailer === undefined ? null : Number(log.trailer.elapsedNs) / 1e6,
    exitCode: exitCode === undefined ? null : exitCode.toString(),
    crew:
      transfers === 0
        ? null
        : { transfers, perMillion: perMillion(transfers) ?? 0, byPair: Object.fromEntries(pairs), hottestPages },
  };
}
