/**
 * Turns a log's records, visited once in log order, into trace events: one process per
 * vCPU (pid = vCPU + 1) with its track of segments between checkpoint cuts, instants for
 * interrupts, inputs and checkpoints, a slice at each end of every CREW transfer joined by
 * a flow arrow, and counters of log bytes and transfers per interval of its landmarks. It
 * keeps a few numbers per vCPU and never a record, so a log of any size takes bounded memory.
 */
import { pageLocation, pageSymbols } from '../crew-pages.js';
import type { GuestSymbol } from '../guest-symbols.js';
import type { LogHeader } from '../log-reader.js';
import type { CrewTransferRecord, LogRecord } from '../log-records.js';
import { viewOf } from './record-view.js';
import type { TimeAxis } from './time-axis.js';
import type { TraceArgs, TraceSink } from './trace-event.js';
import { LandmarkWindow } from './timeline-filter.js';

export interface TimelineSettings {
  header: LogHeader;
  window: LandmarkWindow;
  /** only transfers of these pages; undefined: all */
  pages?: ReadonlySet<bigint>;
  /** landmarks per counter interval */
  interval: bigint;
  /** the guest's data objects, to name pages */
  symbols: readonly GuestSymbol[];
  /** the wall axis: tracks on host time, showing what each vCPU did (from wall-clock samples) instead of segments */
  wall: boolean;
}

/** What a timeline holds, for the command's summary and the trace's metadata. */
export interface TimelineSummary {
  vcpus: number;
  records: number;
  /** transfers drawn (both ends in the window, page passing the filter) */
  transfers: number;
  instants: number;
  checkpoints: number;
  /** wall-clock samples in the log */
  samples: number;
}

/** The track of vCPU `v`: its own process, so that its counters sit under it on its own landmarks. */
export const pidOf = (vcpu: number): number => vcpu + 1;
export const tidOf = (vcpu: number): number => vcpu + 1;

/** How many counter intervals may still take late records before they are written. */
const OPEN_INTERVALS = 4;

interface Interval {
  bytes: number;
  transfers: number;
}

/** One vCPU's counters: intervals still open for late records, then written once. */
class VcpuCounters {
  private readonly open = new Map<bigint, Interval>();
  private newest = -1n;
  private lastWritten = -2n;

  constructor(
    private readonly vcpu: number,
    private readonly interval: bigint,
    private readonly window: LandmarkWindow,
    private readonly axis: TimeAxis,
  ) {}

  add(count: bigint, bytes: number, transfers: number): void {
    let index = count / this.interval;
    const oldestOpen = this.newest - BigInt(OPEN_INTERVALS) + 1n;
    if (index < oldestOpen) index = oldestOpen; // too late to be its own interval: the oldest open one takes it
    const slot = this.open.get(index) ?? { bytes: 0, transfers: 0 };
    slot.bytes += bytes;
    slot.transfers += transfers;
    this.open.set(index, slot);
    if (index > this.newest) {
      this.newest = index;
      this.flushBefore(index - BigInt(OPEN_INTERVALS) + 1n);
    }
  }

  finish(): void {
    this.flushBefore(this.newest + 1n);
  }

  private flushBefore(limit: bigint): void {
    const ready = [...this.open.keys()].filter((i) => i < limit).sort((a, b) => (a < b ? -1 : 1));
    for (const index of ready) {
      const slot = this.open.get(index)!;
      this.open.delete(index);
      // A counter holds its value until the next sample: the interval after a gap says 0.
      if (index > this.lastWritten + 1n && this.lastWritten >= 0n) this.write(this.lastWritten + 1n, { bytes: 0, transfers: 0 });
      this.write(index, slot);
      this.lastWritten = index;
    }
  }

  private write(index: bigint, slot: Interval): void {
    const start = index * this.interval;
    if (this.window.clip(this.vcpu, start, start + this.interval) === undefined) return;
    const counter = (name: string, value: number) =>
      this.axis.place({ vcpu: this.vcpu, count: start, event: { ph: 'C', name, pid: pidOf(this.vcpu), tid: tidOf(this.vcpu), args: { value } } });
    counter('log bytes', slot.bytes);
    counter('transfers', slot.transfers);
  }
}

interface VcpuTrack {
  segmentStart: bigint;
  segments: number;
  highest: bigint;
  counters: VcpuCounters;
  /** from its last wall-clock sample: what it began doing, where and when (µs) */
  activity?: { name: string; count: bigint; us: number };
  /** spans a record opened and a later one closes, by key (a serialized-mode membership, a turn): a few at most */
  open: Map<string, { count: bigint; name: string; category: string; args: TraceArgs }>;
}

export class TimelineBuilder {
  private readonly vcpus: VcpuTrack[];
  private readonly summary: TimelineSummary;
  private readonly pages = new Map<bigint, { name: string; where: string }>();
  private stopped = false;

  constructor(
    private readonly settings: TimelineSettings,
    private readonly axis: TimeAxis,
    private readonly out: TraceSink,
  ) {
    const { header } = settings;
    this.vcpus = Array.from({ length: header.vcpus }, (_, v) => ({
      segmentStart: 0n,
      segments: 0,
      highest: 0n,
      counters: new VcpuCounters(v, settings.interval, settings.window, axis),
      open: new Map(),
    }));
    this.summary = { vcpus: header.vcpus, records: 0, transfers: 0, instants: 0, checkpoints: 0, samples: 0 };
    this.writeTrackNames();
  }

  add(record: LogRecord, encodedBytes: number): void {
    this.summary.records++;
    const view = viewOf(record, this.settings.header.engine);
    switch (view.kind) {
      case 'instant':
        this.see(view.vcpu, view.count, encodedBytes);
        this.instant(view.vcpu, view.count, view.name, view.category, view.args);
        return;
      case 'span':
        this.see(view.vcpu, view.to, encodedBytes);
        this.slice(view.vcpu, view.from, view.to, view.name, view.category, view.args);
        return;
      case 'begin':
        this.see(view.vcpu, view.count, encodedBytes);
        this.begin(view.vcpu, view.count, view.key, view.name, view.category, view.args);
        return;
      case 'end':
        this.see(view.vcpu, view.count, encodedBytes);
        this.end(view.vcpu, view.count, view.key);
        return;
      case 'turn': {
        // The turn passes: the giver's span ends here, the taker's starts where it waits (its last landmark).
        this.see(view.vcpu, view.count, encodedBytes);
        this.end(view.vcpu, view.count, 'turn');
        this.instant(view.vcpu, view.count, `turn -> vcpu ${view.next}`, 'serialized', { next: view.next });
        const next = this.vcpus[view.next];
        if (next !== undefined) this.begin(view.next, next.highest, 'turn', 'turn', 'serialized', { from: view.vcpu });
        return;
      }
      case 'fault': {
        this.see(view.vcpu, view.count, encodedBytes);
        if (this.settings.pages !== undefined && !this.settings.pages.has(view.page)) return;
        const page = this.page(view.page);
        this.instant(view.vcpu, view.count, `fault: ${page.name}`, 'crew', page.where === '' ? view.args : { ...view.args, where: page.where });
        return;
      }
      case 'transfer':
        this.transfer(view.transfer, encodedBytes);
        return;
      case 'checkpoint': {
        this.summary.checkpoints++;
        const index = this.summary.checkpoints;
        view.counts.forEach((count, v) => {
          this.see(v, count, v === 0 ? encodedBytes : 0);
          this.endSegment(v, count, `to checkpoint ${index}`);
          this.instant(v, count, `checkpoint ${index}`, 'checkpoint', view.args);
        });
        return;
      }
      case 'stop':
        this.stopped = true;
        this.see(view.vcpu, view.count, encodedBytes);
        view.counts.forEach((count, v) => {
          this.see(v, count, 0);
          this.endSegment(v, count, 'to the stop');
        });
        this.instant(view.vcpu, view.count, `exit ${view.args['exitCode']}`, 'stop', view.args);
        return;
      case 'sample':
        this.see(view.vcpu, view.count, encodedBytes);
        this.sample(view.vcpu, view.count, Number(view.ns) / 1000, view.activity);
        return;
      case 'none':
        return;
    }
  }

  /**
   * A vCPU began `activity` at `count`, `us` after the start. On the wall axis its track
   * shows a span per activity (running, page-wait, cut, sleep, spin-wait); on the landmark
   * axis, where a stall has no width, an instant that says how long it lasted.
   */
  private sample(vcpu: number, count: bigint, us: number, activity: string): void {
    this.summary.samples++;
    this.axis.sample?.(vcpu, count, us);
    const track = this.vcpus[vcpu];
    if (track === undefined) return;
    const before = track.activity;
    if (before !== undefined && before.name === activity) return; // still the same: the span goes on
    track.activity = { name: activity, count, us };
    if (before === undefined || before.name === 'running' || before.name === 'stopped') {
      if (!this.settings.wall || before === undefined) return;
    }
    const window = this.settings.window;
    if (!window.contains(vcpu, before.count) && !window.contains(vcpu, count)) return;
    const args = { us: Math.round((us - before.us) * 1000) / 1000, from: before.count.toString(), to: count.toString() };
    if (this.settings.wall) {
      this.out.add({ ph: 'X', name: before.name, cat: 'state', ts: before.us, dur: Math.max(0, us - before.us), pid: pidOf(vcpu), tid: tidOf(vcpu), args });
    } else {
      this.instant(vcpu, before.count, `${before.name} ${args.us} µs`, 'state', args);
    }
  }

  /** A span of the vCPU's from `count` on, until `end` with the same key (a second begin closes the first). */
  private begin(vcpu: number, count: bigint, key: string, name: string, category: string, args: TraceArgs): void {
    const track = this.vcpus[vcpu];
    if (track === undefined) return;
    this.end(vcpu, count, key);
    track.open.set(key, { count, name, category, args });
  }

  private end(vcpu: number, count: bigint, key: string): void {
    const open = this.vcpus[vcpu]?.open.get(key);
    if (open === undefined) return;
    this.vcpus[vcpu]!.open.delete(key);
    if (count > open.count) this.slice(vcpu, open.count, count, open.name, open.category, { ...open.args, from: open.count.toString(), to: count.toString() });
  }

  /** Closes the open segments (an incomplete log's end at each vCPU's last landmark), spans and the counters. */
  finish(): TimelineSummary {
    this.vcpus.forEach((t, v) => {
      for (const key of [...t.open.keys()]) this.end(v, t.highest, key);
    });
    if (!this.stopped) this.vcpus.forEach((t, v) => this.endSegment(v, t.highest, 'to the end of the log'));
    for (const t of this.vcpus) t.counters.finish();
    this.axis.finish();
    return this.summary;
  }

  private writeTrackNames(): void {
    const unit = this.settings.wall ? 'host time' : this.settings.header.engine === 'kvm' ? 'exits' : 'instructions';
    this.vcpus.forEach((_, v) => {
      const ids = { pid: pidOf(v), tid: tidOf(v), ts: 0 };
      this.out.add({ ph: 'M', name: 'process_name', ...ids, args: { name: `vcpu ${v}` } });
      this.out.add({ ph: 'M', name: 'process_sort_index', ...ids, args: { sort_index: v } });
      this.out.add({ ph: 'M', name: 'thread_name', ...ids, args: { name: `vcpu ${v} (${unit})` } });
    });
  }

  /** A record's landmark: the vCPU's highest count so far, and its bytes in the counters. */
  private see(vcpu: number, count: bigint, bytes: number, transfers = 0): void {
    const track = this.vcpus[vcpu];
    if (track === undefined) return;
    if (count > track.highest) track.highest = count;
    if (bytes > 0 || transfers > 0) track.counters.add(count, bytes, transfers);
  }

  private endSegment(vcpu: number, end: bigint, name: string): void {
    const track = this.vcpus[vcpu]!;
    const start = track.segmentStart;
    track.segmentStart = end;
    if (this.settings.wall || end <= start) return;
    track.segments++;
    this.slice(vcpu, start, end, name, 'segment', { from: start.toString(), to: end.toString() });
  }

  private instant(vcpu: number, count: bigint, name: string, category: string, args: TraceArgs): void {
    if (!this.settings.window.contains(vcpu, count)) return;
    this.summary.instants++;
    this.axis.place({ vcpu, count, event: { ph: 'i', s: 't', name, cat: category, pid: pidOf(vcpu), tid: tidOf(vcpu), args } });
  }

  private slice(vcpu: number, from: bigint, to: bigint, name: string, category: string, args: TraceArgs): void {
    const clipped = this.settings.window.clip(vcpu, from, to);
    if (clipped === undefined) return;
    this.axis.place({ vcpu, count: clipped[0], endCount: clipped[1], event: { ph: 'X', name, cat: category, pid: pidOf(vcpu), tid: tidOf(vcpu), args } });
  }

  private transfer(t: CrewTransferRecord, encodedBytes: number): void {
    this.see(t.from.vcpu, t.from.count, 0);
    if (this.settings.pages !== undefined && !this.settings.pages.has(t.page)) {
      this.see(t.to.vcpu, t.to.count, encodedBytes);
      return;
    }
    this.see(t.to.vcpu, t.to.count, encodedBytes, 1);
    const window = this.settings.window;
    const fromIn = window.contains(t.from.vcpu, t.from.count);
    const toIn = window.contains(t.to.vcpu, t.to.count);
    if (!fromIn && !toIn) return;
    const page = this.page(t.page);
    const name = page.name;
    const args: TraceArgs = { transfer: `page 0x${t.page.toString(16)}: vcpu ${t.from.vcpu} @ ${t.from.count} -> vcpu ${t.to.vcpu} @ ${t.to.count}` };
    if (page.where !== '') args['where'] = page.where;
    // The arrow only when both ends are drawn: a flow with one end dangles in a viewer.
    const flow = fromIn && toIn ? `0x${(++this.summary.transfers).toString(16)}` : undefined;
    const end = (vcpu: number, count: bigint, direction: { flow_out: true } | { flow_in: true }) =>
      this.axis.place({
        vcpu,
        count,
        endCount: count,
        event: { ph: 'X', name, cat: 'crew', pid: pidOf(vcpu), tid: tidOf(vcpu), args, ...(flow === undefined ? {} : { bind_id: flow, ...direction }) },
      });
    if (fromIn) end(t.from.vcpu, t.from.count, { flow_out: true });
    if (toIn) end(t.to.vcpu, t.to.count, { flow_in: true });
  }

  /** "page 0x3 (shared)": the page and the guest variables on it; and where it lies in the guest. */
  private page(page: bigint): { name: string; where: string } {
    let known = this.pages.get(page);
    if (known === undefined) {
      const { header, symbols } = this.settings;
      const names = pageSymbols(header, page, symbols);
      known = { name: `page 0x${page.toString(16)}${names.length > 0 ? ` (${names.join(', ')})` : ''}`, where: pageLocation(header, page, symbols) };
      // Bounded: a log touches at most the machine's pages, and names are short.
      this.pages.set(page, known);
    }
    return known;
  }
}
