/**
 * The runner's progress: on a terminal one line, rewritten, with the trial, how far the
 * sweep is and an ETA from the trials done so far (a trial's earlier repeat when there was
 * one); elsewhere (CI logs) one line per trial.
 */
const clock = (seconds: number): string => {
  const s = Math.max(0, Math.round(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
};

export class Progress {
  private readonly started = process.hrtime.bigint();
  private readonly secondsByKey = new Map<string, number>();
  private doneSeconds = 0;
  private done = 0;
  private readonly tty = process.stderr.isTTY === true;

  constructor(private readonly jobs: readonly { key: string }[]) {}

  private elapsed(): number {
    return Number(process.hrtime.bigint() - this.started) / 1e9;
  }

  /** Seconds the jobs from `index` on should take: each its key's last time, else the mean so far. */
  private remaining(index: number): number | null {
    if (this.done === 0) return null;
    const mean = this.doneSeconds / this.done;
    return this.jobs.slice(index).reduce((sum, job) => sum + (this.secondsByKey.get(job.key) ?? mean), 0);
  }

  starting(index: number, label: string): void {
    if (!this.tty) return;
    const eta = this.remaining(index);
    // The counts and the ETA first: a narrow terminal cuts the label, not them.
    const line = `[${index + 1}/${this.jobs.length} · ${clock(this.elapsed())} elapsed${eta === null ? '' : ` · ETA ${clock(eta)}`}] ${label}`;
    process.stderr.write(`\r\x1b[K${line.slice(0, (process.stderr.columns ?? 120) - 1)}`);
  }

  finished(index: number, label: string, seconds: number, error?: string, cpuSeconds?: unknown): void {
    this.secondsByKey.set(this.jobs[index]!.key, seconds);
    this.doneSeconds += seconds;
    this.done++;
    if (this.tty && error === undefined) return;
    const cpu = typeof cpuSeconds === 'number' ? ` (trial process CPU ${cpuSeconds.toFixed(1)} s)` : '';
    const line = `[${index + 1}/${this.jobs.length}] ${label}: ${error === undefined ? `${seconds.toFixed(1)} s${cpu}` : `FAILED (${error})`}`;
    process.stderr.write(this.tty ? `\r\x1b[K${line}\n` : `${line}\n`);
  }

  end(): void {
    if (this.tty) process.stderr.write('\r\x1b[K');
    process.stderr.write(`${this.jobs.length} trials in ${clock(this.elapsed())}\n`);
  }
}
