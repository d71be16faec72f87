/**
 * Where on the trace's clock an event at a vCPU's landmark goes. The landmark axis puts
 * landmark N at N µs: each vCPU's track runs on its own landmarks (retired instructions on
 * emu, exits on kvm), exactly, with no claim that two vCPUs' N happened at the same time.
 * The wall axis (wall-axis.ts) puts it at the host time the recording sampled.
 */
import type { TraceEvent, TraceSink } from './trace-event.js';

/**
 * An event whose time is a landmark (and, for a slice, whose end is another landmark of the
 * same vCPU). The axis completes `event` in place: each must be a fresh object.
 */
export interface LandmarkEvent {
  vcpu: number;
  count: bigint;
  endCount?: bigint;
  event: Omit<TraceEvent, 'ts' | 'dur'>;
}

export interface TimeAxis {
  /** What 1 µs on the trace's clock stands for. */
  readonly description: string;
  /** Places `e` on the clock and hands it to the sink, now or once the axis knows its time. */
  place(e: LandmarkEvent): void;
  /** Everything held back goes out. */
  finish(): void;
  /** A wall-clock sample (the wall axis places events by them; the landmark axis needs none). */
  sample?(vcpu: number, count: bigint, us: number): void;
}

export class LandmarkAxis implements TimeAxis {
  readonly description: string;

  constructor(
    private readonly out: TraceSink,
    landmarkUnit: string,
  ) {
    this.description = `1 µs = 1 ${landmarkUnit === 'exits' ? 'exit' : 'instruction'} of the track's vCPU (each vCPU on its own landmarks)`;
  }

  place(e: LandmarkEvent): void {
    // The event is the caller's own fresh object: completed in place (a copy per event costs).
    const placed = e.event as TraceEvent;
    placed.ts = Number(e.count);
    if (e.endCount !== undefined) placed.dur = Number(e.endCount - e.count);
    this.out.add(placed);
  }

  finish(): void {}
}
