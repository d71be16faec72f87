/**
 * This process image's peak resident memory (VmHWM). Not getrusage's maxRSS: Linux carries
 * that over fork and exec, so a child would count its parent's memory at the fork.
 */
import { readFileSync } from 'node:fs';

export function peakRssBytes(): number {
  const line = readFileSync('/proc/self/status', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmHWM:'));
  if (line === undefined) throw new Error('/proc/self/status has no VmHWM line');
  return Number(/(\d+)/.exec(line)![1]) * 1024;
}
