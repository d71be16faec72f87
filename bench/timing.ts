/** Wall-clock seconds since a `process.hrtime.bigint()` reading: the benches' one timer. */
export function secondsSince(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e9;
}
