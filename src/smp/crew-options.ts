/**
 * CREW session options for recording several vCPUs: the page granularity (bytes per
 * ownership page, recorded in the log header) and the hold (instructions a vCPU keeps a
 * page it gained before it serves requests for it), with their validation and defaults.
 * Replay needs neither: it follows the edges the log holds.
 */

/** Smallest CREW page: a cache line. */
export const CREW_MIN_GRANULARITY = 64;
/** Largest CREW page: a 2 MiB huge page. */
export const CREW_MAX_GRANULARITY = 2 * 1024 * 1024;
/** A 4 KiB page, as EPT write protection would give. */
export const CREW_DEFAULT_GRANULARITY = 4096;

/** Throws TypeError/RangeError unless `bytes` is a power of two from 64 B to 2 MiB. */
export function checkCrewGranularity(bytes: unknown): number {
  if (typeof bytes !== 'number' || !Number.isInteger(bytes)) throw new TypeError('the CREW granularity must be an integer number of bytes');
  if (bytes < CREW_MIN_GRANULARITY || bytes > CREW_MAX_GRANULARITY || (bytes & (bytes - 1)) !== 0) {
    throw new RangeError(`the CREW granularity must be a power of two from 64 B to 2 MiB, not ${bytes}`);
  }
  return bytes;
}

/**
 * The granularity a recording of `vcpus` vCPUs uses: 0 (CREW off) on one vCPU, where there
 * is nothing to order; otherwise the given one, checked, or the default.
 */
export function crewGranularityFor(vcpus: number, requested: number | undefined): number {
  if (vcpus === 1) {
    if (requested !== undefined) checkCrewGranularity(requested);
    return 0;
  }
  return requested === undefined ? CREW_DEFAULT_GRANULARITY : checkCrewGranularity(requested);
}

/**
 * Instructions a vCPU keeps a page it gained before serving others' requests: about 10 µs
 * of guest time, near what one transfer costs. 0 serves them at the next block boundary,
 * which makes pages written by two vCPUs change hands at nearly every write
 * (docs/crew.md, "Holding").
 */
export const CREW_DEFAULT_HOLD = 10_000;
/** A generous ceiling: beyond this, requesters wait for milliseconds. */
export const CREW_MAX_HOLD = 100_000_000;

/** Throws TypeError/RangeError unless `instructions` is an integer from 0 to CREW_MAX_HOLD. */
export function checkCrewHold(instructions: unknown): number {
  if (typeof instructions !== 'number' || !Number.isInteger(instructions)) throw new TypeError('the CREW hold must be an integer number of instructions');
  if (instructions < 0 || instructions > CREW_MAX_HOLD) {
    throw new RangeError(`the CREW hold must be from 0 to ${CREW_MAX_HOLD} instructions, not ${instructions}`);
  }
  return instructions;
}
