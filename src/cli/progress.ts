/**
 * A progress line on stderr for long runs, rewritten in place about once a second and
 * erased when the run ends. Only on a terminal, and only when the guest's console output
 * does not go to that terminal too (it would land in the middle of the line): pipes and CI
 * logs get the one summary line at the end, as before.
 */
import type { RunProgress } from '../engines/engine.js';

function formatCount(n: bigint): string {
  const units: [bigint, string][] = [
    [1_000_000_000n, 'G'],
    [1_000_000n, 'M'],
    [1_000n, 'k'],
  ];
  for (const [scale, unit] of units) {
    if (n >= scale) return `${(Number(n) / Number(scale)).toFixed(2)} ${unit}`;
  }
  return n.toString();
}

export class ProgressLine {
  private readonly enabled: boolean;
  private shown = false;

  /** `label`: what runs ("recording run.rrlog"); `consoleToStdout`: whether the guest's output goes to stdout. */
  constructor(
    private readonly label: string,
    consoleToStdout: boolean,
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {
    this.enabled = stream.isTTY === true && !(consoleToStdout && process.stdout.isTTY === true);
  }

  /** The callback for a session's onProgress, or undefined when nothing is shown. */
  get onProgress(): ((sample: RunProgress) => void) | undefined {
    return this.enabled ? (sample) => this.show(sample) : undefined;
  }

  /** Erases the line; call when the run ends, before printing its result. */
  end(): void {
    if (this.shown) this.stream.write('\r\x1b[K');
    this.shown = false;
  }

  private show(sample: RunProgress): void {
    this.stream.write(`\r${this.label}: ${sample.seconds.toFixed(0)} s, ${formatCount(sample.landmarks)} ${sample.landmarkUnit}\x1b[K`);
    this.shown = true;
  }
}
