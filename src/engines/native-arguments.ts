/**
 * Checks every engine makes on what it hands its native run: the addon checks again, but a
 * bad value caught here names the option the caller gave.
 */
import type { ConsoleInput } from './engine.js';

export function checkInteger(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) throw new TypeError(`${name} must be an integer`);
  if (value < min || value > max) throw new RangeError(`${name} must be between ${min} and ${max}, not ${value}`);
  return value;
}

/** The largest shuffle seed (RunOptions.shuffleSeed); the addon reads seeds up to the same (addon::ShuffleSeedOf). */
export const MAX_SHUFFLE_SEED = 2 ** 32 - 1;

/** RunOptions.shuffleSeed, 0 when absent (no shuffle). */
export function checkShuffleSeed(seed: number | undefined): number {
  return checkInteger('shuffleSeed', seed ?? 0, 0, MAX_SHUFFLE_SEED);
}

/** The console input as the native run takes it: bytes, a file descriptor, or none. */
export function checkInput(input: ConsoleInput | undefined): Buffer | number | null {
  if (input === undefined || input.kind === 'none') return null;
  if (input.kind === 'bytes') {
    if (!(input.data instanceof Uint8Array)) throw new TypeError('input.data must be a Uint8Array');
    return Buffer.from(input.data);
  }
  if (input.kind === 'fd') return checkInteger('input.fd', input.fd, 0, 2 ** 31 - 1);
  throw new TypeError(`unknown input kind ${(input as { kind: unknown }).kind}`);
}
