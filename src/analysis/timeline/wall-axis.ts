/**
 * The wall axis (`log timeline --wall`): an event at a vCPU's landmark goes at the host time
 * the vCPU passed it, from the recording's wall-clock samples (`record --wall-samples`):
 * between two samples of a vCPU its landmarks are spread evenly over the time between them.
 * An event waits until a sample past its landmark arrives (samples come every millisecond
 * or so of a running vCPU), so only that much is ever held; each vCPU keeps its last
 * RECENT_SAMPLES samples for the few records that arrive late (a transfer's giving end).
 */
import type { LandmarkEvent, TimeAxis } from './time-axis.js';
import type { TraceEvent, TraceSink } from './trace-event.js';

const RECENT_SAMPLES = 256;

interface Sample {
  count: bigint;
  /** µs since the machine started */
  us: number;
}

interface VcpuClock {
  recent: Sample[];
  waiting: LandmarkEvent[];
}

export class WallAxis implements TimeAxis {
  readonly description = 'host time since the machine started, from the recording\'s wall-clock samples (landmarks spread evenly between samples)';
  private readonly vcpus: VcpuClock[] = [];
  samples = 0;
  /** events of vCPUs the log holds no sample of: nothing says when they happened, so they are left out */
  unplaced = 0;

  constructor(private readonly out: TraceSink) {}

  place(e: LandmarkEvent): void {
    const clock = this.clock(e.vcpu);
    const last = clock.recent.at(-1);
    const end = e.endCount ?? e.count;
    if (last !== undefined && end < last.count) this.emit(clock, e);
    else clock.waiting.push(e);
  }

  /** A sample of `vcpu`: at `count`, `us` after the start. Events before `count` go out. */
  sample(vcpu: number, count: bigint, us: number): void {
    this.samples++;
    const clock = this.clock(vcpu);
    clock.recent.push({ count, us });
    if (clock.recent.length > RECENT_SAMPLES) clock.recent.shift();
    if (clock.waiting.length === 0) return;
    const ready = clock.waiting.filter((e) => (e.endCount ?? e.count) < count);
    if (ready.length === 0) return;
    clock.waiting = clock.waiting.filter((e) => (e.endCount ?? e.count) >= count);
    for (const e of ready) this.emit(clock, e);
  }

  /** Events past a vCPU's last sample go where it was last seen. */
  finish(): void {
    for (const clock of this.vcpus) {
      if (clock === undefined) continue;
      if (clock.recent.length === 0) this.unplaced += clock.waiting.length;
      else for (const e of clock.waiting) this.emit(clock, e);
      clock.waiting = [];
    }
  }

  private clock(vcpu: number): VcpuClock {
    return (this.vcpus[vcpu] ??= { recent: [], waiting: [] });
  }

  private emit(clock: VcpuClock, e: LandmarkEvent): void {
    const ts = this.timeOf(clock, e.count);
    const placed = e.event as TraceEvent;
    placed.ts = ts;
    if (e.endCount !== undefined) placed.dur = Math.max(0, this.timeOf(clock, e.endCount) - ts);
    this.out.add(placed);
  }

  /** µs at `count`: between the latest sample at or before it and the first after it. */
  private timeOf(clock: VcpuClock, count: bigint): number {
    const samples = clock.recent;
    if (samples.length === 0) return 0;
    let before = -1;
    for (let i = samples.length - 1; i >= 0; i--) {
      if (samples[i]!.count <= count) {
        before = i;
        break;
      }
    }
    if (before === -1) return samples[0]!.us; // older than every sample kept
    const a = samples[before]!;
    const b = samples.slice(before + 1).find((s) => s.count > count);
    if (b === undefined) return a.us; // past the last sample: where the vCPU was last seen
    return a.us + (Number(count - a.count) * (b.us - a.us)) / Number(b.count - a.count);
  }
}
