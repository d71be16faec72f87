/**
 * The Chrome/Perfetto trace-event JSON format, as far as rrkit's timeline uses it: complete
 * slices ('X'), thread-scoped instants ('i'), counters ('C') and metadata ('M'), and flow
 * arrows between slices by `bind_id` with `flow_out` on the source slice and `flow_in` on
 * the destination (flow events v2, which Perfetto's and chrome://tracing's importers both
 * read). Perfetto and chrome://tracing open such a file as it is.
 */

export type TraceArgs = Record<string, string | number | boolean>;

export interface TraceEvent {
  ph: 'X' | 'i' | 'C' | 'M';
  name: string;
  /** microseconds on the trace's clock (see TimeAxis) */
  ts: number;
  pid: number;
  tid: number;
  cat?: string;
  /** 'X' only */
  dur?: number;
  /** 'i' only: 't' = on the thread's track */
  s?: 't';
  args?: TraceArgs;
  bind_id?: string;
  flow_out?: boolean;
  flow_in?: boolean;
}

/** Where a timeline's events go, in any order (viewers sort them by time). */
export interface TraceSink {
  add(event: TraceEvent): void;
}

/** The fields every event must have (the format's required fields). */
export const REQUIRED_FIELDS = ['ph', 'name', 'ts', 'pid', 'tid'] as const;
