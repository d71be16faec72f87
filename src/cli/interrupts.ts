/**
 * SIGINT and SIGTERM while a command runs a guest: instead of Node's default (exit at once,
 * losing the records not yet written), the first signal stops the runs in progress
 * (native interruptRuns: each ends as 'interrupted', a recording's open chunk sealed and its
 * log kept, incomplete) and the command finishes normally, saying so. A second signal, or
 * one that arrives when no run is in progress, exits at once with 128 + the signal's number
 * after `cleanup`.
 */
import { native } from '../native.js';
import { EXIT } from './exit-status.js';

export type InterruptSignal = 'SIGINT' | 'SIGTERM';

const STATUS: Record<InterruptSignal, number> = { SIGINT: EXIT.sigint, SIGTERM: EXIT.sigterm };

export class InterruptWatch {
  /** the first signal received, if any */
  signal: InterruptSignal | undefined;
  private readonly handlers = new Map<InterruptSignal, () => void>();

  constructor(private readonly cleanup: () => void) {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      const handler = (): void => this.received(signal);
      this.handlers.set(signal, handler);
      process.on(signal, handler);
    }
  }

  /** The exit status for the signal received (130 or 143). */
  get status(): number {
    return this.signal === undefined ? EXIT.failed : STATUS[this.signal];
  }

  /** Restores the default handling. */
  dispose(): void {
    for (const [signal, handler] of this.handlers) process.off(signal, handler);
    this.handlers.clear();
  }

  private received(signal: InterruptSignal): void {
    if (this.signal === undefined) {
      this.signal = signal;
      if (native().interruptRuns() > 0) {
        process.stderr.write(`rrkit: ${signal}: stopping the guest and sealing the log (${signal} again to quit at once)\n`);
        return;
      }
    }
    this.cleanup();
    process.stderr.write(`rrkit: ${signal}: quitting\n`);
    process.exit(STATUS[signal]);
  }
}
