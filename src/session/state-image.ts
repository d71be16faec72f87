/**
 * State images (emu): a machine's whole state at a consistent cut, written to a file by a
 * replay (`rrkit replay --save-image`) and restored by another process, which replays the
 * log from that cut on (`rrkit replay --from-image`) — the checkpoint a backup rejoins from
 * (docs/replication.md, "State images"; the format: native/emu/state_image.h).
 */
import { native, type NativeStateImageInfo } from '../native.js';

/** A state image that cannot be used: damaged, not an image, of another guest or machine, or not of this log. */
export class StateImageError extends Error {
  override name = 'StateImageError';
}

/** `--save-image` names an input of the replay, or an existing file without `--force` (bad usage). */
export class StateImageDestinationRefused extends Error {
  override name = 'StateImageDestinationRefused';
}

export type StateImageInfo = NativeStateImageInfo;

/** What the image at `path` holds; throws StateImageError (one line) for a damaged or foreign file. */
export function stateImageInfo(path: string): StateImageInfo {
  try {
    return native().emuStateImageInfo(path);
  } catch (error) {
    if (error instanceof Error && (error as Error & { code?: unknown }).code === 'bad-state-image') throw new StateImageError(error.message);
    throw error;
  }
}

/** "vcpu 0 @ 1200, vcpu 1 @ 800" */
export function describeCut(counts: readonly bigint[]): string {
  return counts.map((count, vcpu) => `vcpu ${vcpu} @ ${count}`).join(', ');
}
