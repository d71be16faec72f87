/**
 * Statistics of a log: what it holds, what each kind of event costs, and how dense it is
 * per million landmarks (instructions on emu, exits on kvm).
 */
import { landmarkUnitOf, type LandmarkUnit } from '../engines/index.js';
import { pageLocation, recordedImageSymbols } from './crew-pages.js';
import type { GuestSymbol } from './guest-symbols.js';
import { scanLogFile, type LogOutline } from './log-reader.js';
import type { LogRecord, RecordType } from './log-records.js';

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

/**
 * How late interrupts were delivered: kvm takes an interrupt only at a VM exit, so each one
 * waits from the time it fell due until the guest's next exit (in µs).
 */
export interface InterruptDelayStats {
  interrupts: number;
  meanUs: number;
  medianUs: number;
  p90Us: number;
  p99Us: number;
  maxUs: number;
  /** interrupts whose delay was at most `upToUs` (and above the previous bucket's); the last bucket has no bound (null) */
  histogram: { upToUs: number | null; interrupts: number }[];
}

/** Bucket bounds for the delay histogram, in µs: decades. */
const DELAY_BUCKETS_US = [10, 100, 1_000, 10_000, 100_000];

export function interruptDelayStats(delaysNs: readonly number[]): InterruptDelayStats | null {
  if (delaysNs.length === 0) return null;
  const us = delaysNs.map((ns) => ns / 1000).sort((a, b) => a - b);
  const at = (q: number): number => us[Math.min(us.length - 1, Math.floor(q * us.length))]!;
  const histogram = [...DELAY_BUCKETS_US, null].map((upToUs) => ({ upToUs, interrupts: 0 }));
  for (const d of us) {
    const bucket = DELAY_BUCKETS_US.findIndex((bound) => d <= bound);
    histogram[bucket === -1 ? DELAY_BUCKETS_US.length : bucket]!.interrupts++;
  }
  return {
    interrupts: us.length,
    meanUs: us.reduce((a, b) => a + b, 0) / us.length,
    medianUs: at(0.5),
    p90Us: at(0.9),
    p99Us: at(0.99),
    maxUs: us[us.length - 1]!,
    histogram,
  };
}

/** Serialized mode (docs/crew.md): groups formed, switches, and the instructions run in turns. */
export interface SerialStats {
  /** Distinct groups (a group id that came back after its group dissolved counts again). */
  groups: number;
  modeSwitches: number;
  turnSwitches: number;
  turnSwitchesPerMillion: number;
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
  landmarkUnit: LandmarkUnit;
  bytesPerMillion: number | null;
  /** Recording time from the trailer; null when the log is incomplete. */
  durationMs: number | null;
  exitCode: string | null;
  crew: CrewStats | null;
  /** kvm: how long interrupts waited for an exit; null when the log has no delays */
  interruptDelay: InterruptDelayStats | null;
  serial: SerialStats | null;
}

/**
 * Accumulates a log's statistics one record at a time, so that a log of any size takes one
 * pass and keeps no record: add() each record in log order, then finish() with the outline.
 */
export class LogStatsBuilder {
  private readonly byType: Partial<Record<RecordType, TypeStats>> = {};
  /** Highest landmark count per vCPU; sparse, as the vCPU count comes only with finish(). */
  private readonly lastCount: bigint[] = [];
  private stopCounts: bigint[] | undefined;
  private exitCode: bigint | undefined;
  private readonly pairs = new Map<string, number>();
  private readonly pages = new Map<bigint, number>();
  private records = 0;
  private transfers = 0;
  private readonly delaysNs: number[] = [];
  private groups = 0;
  private readonly openGroups = new Map<bigint, number>();
  private modeSwitches = 0;
  private turnSwitches = 0;

  add(record: LogRecord, encodedBytes: number): void {
    this.records++;
    const stats = (this.byType[record.type] ??= { events: 0, bytes: 0 });
    stats.events++;
    stats.bytes += encodedBytes;
    switch (record.type) {
      case 'checkpoint':
        record.vcpus.forEach((v, vcpu) => this.see(vcpu, v.count));
        break;
      case 'machine-stop':
        this.stopCounts = record.vcpus.map((v) => v.count);
        this.exitCode = record.exitCode;
        break;
      case 'crew-transfer': {
        this.transfers++;
        this.see(record.from.vcpu, record.from.count);
        this.see(record.to.vcpu, record.to.count);
        const pair = `${record.from.vcpu}->${record.to.vcpu}`;
        this.pairs.set(pair, (this.pairs.get(pair) ?? 0) + 1);
        this.pages.set(record.page, (this.pages.get(record.page) ?? 0) + 1);
        break;
      }
      case 'delayed-interrupt':
        this.delaysNs.push(Number(record.delayNs));
        this.see(record.vcpu, record.count);
        break;
      case 'mode-switch': {
        this.modeSwitches++;
        this.see(record.vcpu, record.count);
        const members = this.openGroups.get(record.group) ?? 0;
        if (record.serialized && members === 0) this.groups++;
        const now = members + (record.serialized ? 1 : -1);
        if (now > 0) this.openGroups.set(record.group, now);
        else this.openGroups.delete(record.group);
        break;
      }
      case 'turn-switch':
        this.turnSwitches++;
        this.see(record.vcpu, record.count);
        break;
      default:
        this.see(record.vcpu, record.count);
    }
  }

  /** `symbols`: the guest image's data objects, to name what lies on the hottest pages. */
  finish(log: LogOutline, symbols: readonly GuestSymbol[] = []): LogStats {
    const landmarks = (this.stopCounts ?? this.lastCount).reduce((a, b) => a + b, 0n);
    const millions = Number(landmarks) / 1e6;
    const perMillion = (n: number): number | null => (millions > 0 ? n / millions : null);
    const hottestPages = [...this.pages.entries()]
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
      .slice(0, 10)
      .map(([page, count]) => ({ page: `0x${page.toString(16)}`, where: pageLocation(log.header, page, symbols), transfers: count }));

    return {
      engine: log.header.engine,
      vcpus: log.header.vcpus,
      complete: log.complete,
      chunks: log.chunks.length,
      bytes: log.bytes,
      records: this.records,
      byType: this.byType,
      landmarks: landmarks.toString(),
      landmarkUnit: landmarkUnitOf(log.header.engine),
      bytesPerMillion: perMillion(log.bytes),
      durationMs: log.trailer === undefined ? null : Number(log.trailer.elapsedNs) / 1e6,
      exitCode: this.exitCode === undefined ? null : this.exitCode.toString(),
      crew:
        this.transfers === 0
          ? null
          : {
              transfers: this.transfers,
              perMillion: perMillion(this.transfers) ?? 0,
              byPair: Object.fromEntries(this.pairs),
              hottestPages,
            },
      interruptDelay: interruptDelayStats(this.delaysNs),
      serial:
        this.modeSwitches === 0
          ? null
          : {
              groups: this.groups,
              modeSwitches: this.modeSwitches,
              turnSwitches: this.turnSwitches,
              turnSwitchesPerMillion: perMillion(this.turnSwitches) ?? 0,
            },
    };
  }

  private see(vcpu: number, count: bigint): void {
    if (count > (this.lastCount[vcpu] ?? 0n)) this.lastCount[vcpu] = count;
  }
}

/**
 * Statistics of a log file, in one streaming pass; throws LogFormatError. The hottest
 * pages are named from `guest` (default: the image path in the log) when that file is the
 * recorded image; otherwise they get addresses only.
 */
export function logFileStats(path: string, guest?: string): LogStats {
  const builder = new LogStatsBuilder();
  const outline = scanLogFile(path, (record, encodedBytes) => builder.add(record, encodedBytes));
  return builder.finish(outline, recordedImageSymbols(guest ?? outline.header.imagePath, outline.header.imageHash));
}
