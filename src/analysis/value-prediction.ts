/**
 * What a vCPU's next input value is predicted from within a chunk — the TypeScript twin of
 * native/replay/value_prediction.h. All arithmetic is modulo 2^64, as in C++.
 */

const MASK = (1n << 64n) - 1n;
const RATE_FRACTION_BITS = 16n;
const LIMIT = 1n << 32n;

/** The previous clock read plus the landmarks elapsed since, at the rate recent reads showed. */
export class ClockPredictor {
  private value = 0n;
  private count = 0n;
  /** clock ticks per landmark, << 16 */
  private rate = 0n;

  predict(count: bigint): bigint {
    const elapsed = (count - this.count) & MASK;
    return (this.value + ((elapsed * this.rate) >> RATE_FRACTION_BITS)) & MASK;
  }

  observe(count: bigint, value: bigint): void {
    const elapsed = (count - this.count) & MASK;
    const advance = (value - this.value) & MASK;
    if (elapsed !== 0n && elapsed < LIMIT && advance < LIMIT) {
      const observed = (advance << RATE_FRACTION_BITS) / elapsed;
      this.rate = (3n * this.rate + observed) / 4n;
    }
    this.count = count;
    this.value = value;
  }
}

/** A vCPU's input history within one chunk. */
export class InputHistory {
  /** 0: no input of this vCPU yet in this chunk */
  lastKind = 0;
  /** its landmark delta, mod 2^64 (what a repeated input reuses) */
  lastDelta = 0n;
  readonly clock = new ClockPredictor();
  /** by input kind: the delta base of the kinds that are neither clock nor entropy */
  readonly lastValue: bigint[] = new Array<bigint>(8).fill(0n);
}
