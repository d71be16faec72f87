/** Checks a trace-event JSON file as a viewer would read it, and sums up what it holds. */
import { readFileSync } from 'node:fs';
import { expect } from 'vitest';
import type { TraceEvent } from '../src/analysis/timeline/trace-event.js';

export interface TraceContents {
  events: TraceEvent[];
  otherData: { rrkit: Record<string, unknown> };
  /** process (vCPU track) names by pid */
  tracks: Map<number, string>;
  /** flows by bind_id: the slice each end is bound to */
  flows: Map<string, { out?: TraceEvent; in?: TraceEvent }>;
}

const PHASES = new Set(['X', 'i', 'C', 'M']);

/** Parses `path` and checks every event against the trace-event format's required fields; fails the test on the first bad one. */
export function readTrace(path: string): TraceContents {
  const json = JSON.parse(readFileSync(path, 'utf8')) as { traceEvents: TraceEvent[]; otherData: TraceContents['otherData'] };
  expect(Array.isArray(json.traceEvents)).toBe(true);
  const tracks = new Map<number, string>();
  const flows = new Map<string, { out?: TraceEvent; in?: TraceEvent }>();
  json.traceEvents.forEach((e, i) => {
    const where = `event ${i}: ${JSON.stringify(e)}`;
    expect(PHASES.has(e.ph), where).toBe(true);
    expect(typeof e.name === 'string' && e.name.length > 0, where).toBe(true);
    expect(Number.isFinite(e.ts) && e.ts >= 0, where).toBe(true);
    expect(Number.isInteger(e.pid) && e.pid > 0, where).toBe(true);
    expect(Number.isInteger(e.tid) && e.tid > 0, where).toBe(true);
    if (e.ph === 'X') expect(Number.isFinite(e.dur) && e.dur! >= 0, where).toBe(true);
    if (e.ph === 'i') expect(e.s, where).toBe('t');
    if (e.ph === 'C') expect(Object.values(e.args ?? {}).every((v) => typeof v === 'number'), where).toBe(true);
    if (e.ph === 'M' && e.name === 'process_name') tracks.set(e.pid, String(e.args?.['name']));
    if (e.bind_id !== undefined) {
      expect(e.ph, where).toBe('X');
      expect(e.flow_in === true ? !e.flow_out : e.flow_out === true, where).toBe(true);
      const flow = flows.get(e.bind_id) ?? {};
      const end = e.flow_out ? 'out' : 'in';
      expect(flow[end], `${where}: a second ${end} end`).toBeUndefined();
      flow[end] = e;
      flows.set(e.bind_id, flow);
    }
  });
  for (const [id, flow] of flows) expect(flow.out !== undefined && flow.in !== undefined, `flow ${id} has both ends`).toBe(true);
  return { events: json.traceEvents, otherData: json.otherData, tracks, flows };
}
