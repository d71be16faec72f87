/**
 * Replays a log in this process and prints its peak RSS: `node --import tsx bench/replay-rss.ts LOG`
 * (bench/log.ts runs it as a process of its own, so that nothing else counts).
 */
import { replay } from '../src/session/replay.js';
import { peakRssBytes } from './peak-rss.js';

const outcome = await replay({ logPath: process.argv[2]!, capture: false, onProgress: undefined });
process.stdout.write(`${JSON.stringify({ peakRssBytes: peakRssBytes(), kind: outcome.kind })}\n`);
