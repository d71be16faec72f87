/**
 * `rrkit log timeline --html` opened in headless Chromium: the page draws a track per vCPU
 * (present in the DOM after its script ran), the screenshot shows the tracks' segments and
 * the transfer arrows, and the page asks for nothing over the network.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { logFileStats } from '../src/analysis/log-stats.js';
import { writeTimeline } from '../src/analysis/timeline/timeline-file.js';
import { builtGuestPath } from '../src/guests/catalog.js';
import { record } from '../src/session/record.js';
import { dumpDom, screenshot } from './headless-chromium.js';
import { tempDir } from './log-fixtures.js';
import { decodePng } from './png-pixels.js';

/** The page's colours (timeline-page-script.ts) for segments and CREW transfers. */
const SEGMENT = [0xdf, 0xe7, 0xf2];
const CREW = [0xd9, 0x48, 0x0f];

describe('the HTML timeline in headless Chromium', () => {
  test('renders a track per vCPU, their segments and the transfers', async () => {
    const dir = tempDir();
    const log = join(dir, 'lock-counter.rrlog');
    const vcpus = 3;
    const run = await record({ elf: builtGuestPath('lock-counter', 'rv64', true), logPath: log, vcpus, capture: true, checkpointInterval: 100_000n, timeoutSeconds: 60 });
    expect(run.exitCode).toBe(0);
    const page = join(dir, 'lock-counter.html');
    const result = writeTimeline({ logPath: log, outPath: page, format: 'html', interval: 20_000n });
    expect(result.transfers).toBe(logFileStats(log).crew!.transfers);

    const html = readFileSync(page, 'utf8');
    // Self-contained: nothing loaded from anywhere.
    expect(html).not.toMatch(/\b(src|href)\s*=/i);
    expect(html).not.toMatch(/@import|url\(/i);

    const dom = await dumpDom(page);
    const tracks = [...dom.matchAll(/<div class="track" data-pid="(\d+)" data-name="([^"]*)"/g)].map((m) => [Number(m[1]), m[2]]);
    expect(tracks).toEqual(Array.from({ length: vcpus }, (_, v) => [v + 1, `vcpu ${v}`]));
    expect(dom).toMatch(/<body data-drawn="[1-9]/);
    expect(dom).toContain(`${vcpus} vCPU tracks, ${result.transfers} transfers`);

    const pixels = decodePng(await screenshot(page, join(dir, 'shot.png')));
    expect([pixels.width, pixels.height]).toEqual([1200, 800]);
    let segment = 0;
    let crew = 0;
    for (let y = 0; y < pixels.height; y++) {
      for (let x = 0; x < pixels.width; x++) {
        const [r, g, b] = pixels.at(x, y);
        if (r === SEGMENT[0] && g === SEGMENT[1] && b === SEGMENT[2]) segment++;
        if (Math.abs(r - CREW[0]!) < 24 && Math.abs(g - CREW[1]!) < 24 && Math.abs(b - CREW[2]!) < 24) crew++;
      }
    }
    // Each track's segments span most of its row (about 1000 × 30 pixels); transfers leave marks and arrows.
    expect(segment).toBeGreaterThan(vcpus * 10_000);
    expect(crew).toBeGreaterThan(100);
  });
});
