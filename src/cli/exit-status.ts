/**
 * rrkit's exit statuses: one per outcome, the same in every command (the README's table is
 * this one). `run`, `record` and `replay` exit with the guest's own code when the guest
 * exits; rrkit's own outcomes use 119–125, next to timeout(1)'s 124, so that they do not
 * collide with the small codes programs use. A guest that exits with one of these itself is
 * reported with it too, and rrkit says so on stderr (guestCodeNote).
 */
import { LogFormatError, UnreplayableLog } from '../analysis/log-error.js';
import { EngineFailure, GuestFailure } from '../engines/engine.js';
import { FileRefused } from '../files/regular-file.js';
import { UnknownGuest } from '../guests/catalog.js';
import { GuestBuildFailed } from '../guests/build.js';
import { GuestImageError } from '../guests/image.js';
import { LogDestinationRefused } from '../session/log-destination.js';
import { StateImageDestinationRefused, StateImageError } from '../session/state-image.js';
import { UsageError } from './errors.js';

export const EXIT = {
  /** verify: identical; log, guest, demo: done (run, record, replay: the guest exited 0) */
  ok: 0,
  /** bad usage: an option out of range, a file argument missing or not a regular file, -o naming an input */
  usage: 119,
  /** a damaged log, a guest image that is bad or not the one the log was recorded from, a guest program that does not build, a bad state image */
  damaged: 120,
  /** rrkit itself failed: a host error (the disk full, a write refused) or an internal error */
  failed: 121,
  /** the guest faulted: an exception it did not handle */
  guestFault: 122,
  /** replay, verify: the log is incomplete (no trailer); replayed as far as it vouches */
  incomplete: 123,
  /** run, record: --timeout stopped the guest (the log is incomplete) */
  timeout: 124,
  /** replay, verify, demo: the replay did not follow the log */
  diverged: 125,
  /** SIGINT / SIGTERM (128 + the signal): record first seals its log */
  sigint: 130,
  sigterm: 143,
} as const;

const MEANING: ReadonlyMap<number, string> = new Map([
  [EXIT.usage, 'bad usage'],
  [EXIT.damaged, 'a damaged log or a bad image'],
  [EXIT.failed, 'rrkit failed'],
  [EXIT.guestFault, 'the guest faulted'],
  [EXIT.incomplete, 'an incomplete log'],
  [EXIT.timeout, 'the timeout'],
  [EXIT.diverged, 'a divergence'],
]);

/** The status a guest's exit code gives the process (the low 8 bits, as the kernel keeps). */
export function guestExitStatus(code: number): number {
  return ((code % 256) + 256) % 256;
}

/** A note for stderr when the guest's own exit code reads as one of rrkit's statuses, else undefined. */
export function guestCodeNote(code: number): string | undefined {
  const status = guestExitStatus(code);
  const meaning = MEANING.get(status);
  return meaning === undefined ? undefined : `exit status ${status} is the guest's own code (rrkit also uses ${status} for ${meaning})`;
}

/** The status for an error that ends a command. */
export function exitStatusOf(error: unknown): number {
  if (error instanceof UsageError || error instanceof UnknownGuest || error instanceof LogDestinationRefused) return EXIT.usage;
  if (error instanceof StateImageDestinationRefused) return EXIT.usage;
  if (error instanceof FileRefused) return error.code === 'too-large' ? EXIT.damaged : EXIT.usage;
  if (error instanceof LogFormatError) return error.code === 'io' ? EXIT.usage : EXIT.damaged;
  if (error instanceof GuestImageError || error instanceof GuestBuildFailed || error instanceof UnreplayableLog) return EXIT.damaged;
  if (error instanceof StateImageError) return EXIT.damaged;
  if (error instanceof GuestFailure) return error.result.outcome === 'timeout' ? EXIT.timeout : EXIT.guestFault;
  if (error instanceof EngineFailure) return EXIT.failed;
  return EXIT.failed;
}
