/**
 * `rrkit log timeline`: a log's timeline written to a trace-event JSON file (Perfetto,
 * chrome://tracing) or a self-contained HTML page, in one streaming pass over the log. The
 * file appears only when the whole log has been read: a damaged log leaves nothing behind.
 */
import { renameSync, rmSync } from 'node:fs';
import { basename } from 'node:path';
import { landmarkUnitOf } from '../../engines/index.js';
import { recordedImageSymbols } from '../crew-pages.js';
import { readLogHeaderFile, scanLogFile } from '../log-reader.js';
import { LandmarkAxis } from './time-axis.js';
import type { TraceArgs } from './trace-event.js';
import { TimelineBuilder, pidOf, tidOf, type TimelineSummary } from './timeline-builder.js';
import { LandmarkWindow, parsePages } from './timeline-filter.js';
import { TimelinePage } from './timeline-html.js';
import { TraceFile, type TraceOutput } from './trace-file.js';
import { WallAxis } from './wall-axis.js';

export type TimelineFormat = 'json' | 'html';

/** A point to mark on a vCPU's track (the divergence `verify --timeline` found). */
export interface TimelineMark {
  vcpu: number;
  count: bigint;
  name: string;
  args: TraceArgs;
}

export interface TimelineRequest {
  logPath: string;
  outPath: string;
  format: TimelineFormat;
  /** the guest ELF whose symbols name pages; default: the image path in the log, when it is the recorded image */
  guest?: string;
  window?: LandmarkWindow;
  /** `--pages`: page numbers, ranges and guest variable names (timeline-filter.ts) */
  pages?: string;
  /** landmarks per counter interval; default DEFAULT_INTERVAL for the engine */
  interval?: bigint;
  marks?: readonly TimelineMark[];
  /** host time from the log's wall-clock samples (record --wall-samples) instead of landmarks */
  wall?: boolean;
}

export interface TimelineResult extends TimelineSummary {
  path: string;
  events: number;
  complete: boolean;
}

/** Counter intervals when none is asked for: about a millisecond of guest time on each engine. */
export const DEFAULT_INTERVAL: Readonly<Record<string, bigint>> = { instructions: 1_000_000n, exits: 100n };

/** Writes the timeline; throws LogFormatError for a bad log, RangeError for a bad filter, Error when OUT cannot be written. */
export function writeTimeline(request: TimelineRequest): TimelineResult {
  const header = readLogHeaderFile(request.logPath);
  const unit = landmarkUnitOf(header.engine);
  const symbols = recordedImageSymbols(request.guest ?? header.imagePath, header.imageHash);
  const pages = request.pages === undefined ? undefined : parsePages(request.pages, header, symbols);
  const window = request.window ?? LandmarkWindow.all;
  const interval = request.interval ?? DEFAULT_INTERVAL[unit]!;
  if (interval <= 0n) throw new RangeError('the counter interval must be at least 1 landmark');

  // Written beside OUT and renamed at the end, so that OUT is whole or absent.
  const partial = `${request.outPath}.partial-${process.pid}`;
  const title = `rrkit timeline of ${basename(request.logPath)}`;
  const output: TraceOutput = request.format === 'html' ? new TimelinePage(partial, title) : new TraceFile(partial);
  try {
    const wall = request.wall ?? false;
    const axis = wall ? new WallAxis(output) : new LandmarkAxis(output, unit);
    const builder = new TimelineBuilder({ header, window, pages, interval, symbols, wall }, axis, output);
    for (const mark of request.marks ?? []) {
      axis.place({ vcpu: mark.vcpu, count: mark.count, event: { ph: 'i', s: 't', name: mark.name, cat: 'divergence', pid: pidOf(mark.vcpu), tid: tidOf(mark.vcpu), args: mark.args } });
    }
    const outline = scanLogFile(request.logPath, (record, bytes) => builder.add(record, bytes));
    const summary = builder.finish();
    if (wall && summary.samples === 0) {
      throw new RangeError(`${request.logPath} holds no wall-clock samples, which --wall needs: record it with --wall-samples`);
    }
    output.finish({
      rrkit: {
        log: basename(request.logPath),
        engine: header.engine,
        landmarkUnit: unit,
        axis: axis.description,
        window: window.describe(header.vcpus),
        pages: pages === undefined ? 'all' : [...pages].map((p) => `0x${p.toString(16)}`).join(','),
        counterInterval: interval.toString(),
        complete: outline.complete,
        ...summary,
        ...(axis instanceof WallAxis ? { unplaced: axis.unplaced } : {}),
      },
    });
    renameSync(partial, request.outPath);
    return { ...summary, path: request.outPath, events: output.events, complete: outline.complete };
  } catch (error) {
    output.abort();
    rmSync(partial, { force: true });
    throw error;
  }
}
