/**
 * CREW session options for recording several vCPUs: the page granularity (bytes per
 * ownership page, recorded in the log header) with its validation and default. Replay needs
 * none: it follows the edges the log holds.
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
