/**
 * The timeline as one self-contained HTML page: the same trace-event JSON as the .json
 * file, embedded in a script element, and a small script that draws it (no network, no
 * library). Written as the trace is produced, like the JSON file.
 */
import { BufferedFile, TraceFile, type TraceOutput } from './trace-file.js';
import type { TraceEvent } from './trace-event.js';
import { PAGE_SCRIPT } from './timeline-page-script.js';

const STYLE = `
body { font: 13px system-ui, sans-serif; margin: 12px; color: #212529; }
h1 { font-size: 16px; margin: 0 0 4px; }
#summary { color: #495057; margin-bottom: 6px; }
#legend .key { margin-right: 12px; white-space: nowrap; }
#legend i { display: inline-block; width: 10px; height: 10px; margin-right: 4px; vertical-align: -1px; }
#view { position: relative; margin-top: 8px; }
#ruler { margin-left: 150px; display: block; }
#tracks { position: relative; user-select: none; cursor: grab; }
.track { display: grid; grid-template-columns: 150px auto; border-top: 1px solid #e9ecef; }
.label { padding: 8px 6px 0 0; font-weight: 600; overflow: hidden; white-space: nowrap; text-overflow: ellipsis; }
.label.small { font-weight: 400; font-size: 11px; color: #868e96; padding-top: 3px; }
canvas { display: block; }
#flows { position: absolute; top: 0; pointer-events: none; }
#tip { position: absolute; display: none; background: #fff; border: 1px solid #adb5bd; padding: 4px 6px;
  white-space: pre; font: 11px ui-monospace, monospace; pointer-events: none; max-width: 600px; z-index: 2; }
#help { color: #868e96; font-size: 11px; margin-top: 6px; }
`;

const escapeHtml = (text: string): string => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
/** JSON inside a script element must not contain "</script": '<' as \u003c is the same JSON. */
const escapeJsonForScript = (json: string): string => json.replace(/</g, '\\u003c');

export class TimelinePage implements TraceOutput {
  private readonly file: BufferedFile;
  private readonly trace: TraceFile;

  constructor(path: string, title: string) {
    this.file = new BufferedFile(path);
    this.file.write(
      `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>` +
        `<style>${STYLE}</style></head>\n<body>\n<h1>${escapeHtml(title)}</h1><div id="summary"></div><div id="legend"></div>\n` +
        `<div id="view"><canvas id="ruler"></canvas><div id="tracks"><canvas id="flows"></canvas></div></div>\n` +
        `<div id="help">wheel: zoom · drag: pan · double-click: everything · pointer: what is there</div><div id="tip"></div>\n` +
        `<script id="trace-data" type="application/json">`,
    );
    this.trace = new TraceFile(this.file, escapeJsonForScript);
  }

  get events(): number {
    return this.trace.events;
  }

  add(event: TraceEvent): void {
    this.trace.add(event);
  }

  abort(): void {
    this.file.abort();
  }

  finish(otherData: object): void {
    this.trace.finish(otherData, false);
    this.file.write(`</script>\n<script>${PAGE_SCRIPT}</script>\n</body></html>\n`);
    this.file.close();
  }
}
