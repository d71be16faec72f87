/**
 * Replays a log in this process and prints its peak RSS: `node --import tsx bench/replay-rss.ts LOG`
 * (bench/log.ts runs it as a process of its own, so that nothing else counts). The peak is
 * VmHWM, this process image's high-water mark: getrusage's maxRSS would also count the
 * parent's resident memory at the fork that started this process.
 */
import { readFileSync } from 'node:fs';
import { replay } from '../src/session/replay.js';

function peakRssKiB(): number {
  const line = readFileSync('/proc/self/status', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmHWM:'));
  if (line === undefined) throw new Error('/proc/self/status has no VmHWM line');
  return Number(/(\d+)/.exec(line)![1]);
}

const outcome = await replay({ logPath: process.argv[2]!, capture: false, onProgress: undefined });
process.stdout.write(`${JSON.stringify({ maxRssKiB: peakRssKiB(), kind: outcome.kind })}\n`);
