/**
 * What part of a log a timeline shows: a window of landmarks per vCPU (`--from`/`--to`,
 * or the cut around a divergence) and a set of CREW pages (`--pages`).
 */
import { pagesOfSymbol } from '../crew-pages.js';
import type { GuestSymbol } from '../guest-symbols.js';
import type { LogHeader } from '../log-reader.js';

const NEVER = (1n << 64n) - 1n;

/** Landmarks [from, to] of each vCPU, both ends included. */
export class LandmarkWindow {
  private constructor(
    private readonly froms: readonly bigint[] | bigint,
    private readonly tos: readonly bigint[] | bigint,
  ) {}

  /** Everything. */
  static readonly all = new LandmarkWindow(0n, NEVER);

  /** The same landmarks on every vCPU (a missing end is open). */
  static between(from: bigint | undefined, to: bigint | undefined): LandmarkWindow {
    if (from !== undefined && to !== undefined && from > to) throw new RangeError(`the window is empty: from ${from} is after to ${to}`);
    return new LandmarkWindow(from ?? 0n, to ?? NEVER);
  }

  /** Landmarks of their own per vCPU (a consistent cut at each end, say); missing entries are open. */
  static perVcpu(from: readonly bigint[], to: readonly (bigint | undefined)[]): LandmarkWindow {
    return new LandmarkWindow(from, to.map((t) => t ?? NEVER));
  }

  get isAll(): boolean {
    return this.froms === 0n && this.tos === NEVER;
  }

  from(vcpu: number): bigint {
    return typeof this.froms === 'bigint' ? this.froms : (this.froms[vcpu] ?? 0n);
  }

  to(vcpu: number): bigint {
    return typeof this.tos === 'bigint' ? this.tos : (this.tos[vcpu] ?? NEVER);
  }

  contains(vcpu: number, count: bigint): boolean {
    return count >= this.from(vcpu) && count <= this.to(vcpu);
  }

  /** [start, end) cut to the window; undefined when nothing of it is inside. */
  clip(vcpu: number, start: bigint, end: bigint): [bigint, bigint] | undefined {
    const a = start > this.from(vcpu) ? start : this.from(vcpu);
    const b = end < this.to(vcpu) + 1n ? end : this.to(vcpu) + 1n;
    return a < b ? [a, b] : undefined;
  }

  /** For the trace's metadata. */
  describe(vcpus: number): string {
    if (this.isAll) return 'all';
    const end = (n: bigint): string => (n === NEVER ? 'end' : n.toString());
    return Array.from({ length: vcpus }, (_, v) => `vcpu ${v}: ${this.from(v)}..${end(this.to(v))}`).join(', ');
  }
}

const SUFFIXES: Readonly<Record<string, bigint>> = { k: 1_000n, K: 1_000n, M: 1_000_000n, G: 1_000_000_000n };

/** A landmark count as given on a command line: `123456`, `0x1e240`, `250k`, `10M`, `2G`. */
export function parseLandmark(text: string): bigint {
  const m = /^(\d+|0x[0-9a-f]+)([kKMG]?)$/i.exec(text.trim());
  if (m === null) throw new RangeError(`'${text}' is not a landmark count (a number, optionally with k, M or G)`);
  return BigInt(m[1]!) * (m[2] ? SUFFIXES[m[2]]! : 1n);
}

/**
 * The CREW pages `spec` names: comma-separated page numbers as `log stats` and `log dump`
 * print them (`0x3`, `7`), ranges (`0x3-0x7`), and guest variables by name (every page
 * the variable lies on). Throws RangeError naming what it cannot resolve.
 */
export function parsePages(spec: string, header: LogHeader, symbols: readonly GuestSymbol[]): Set<bigint> {
  const pages = new Set<bigint>();
  const number = /^(\d+|0x[0-9a-f]+)$/i;
  for (const raw of spec.split(',')) {
    const item = raw.trim();
    if (item === '') continue;
    const range = /^(\d+|0x[0-9a-f]+)-(\d+|0x[0-9a-f]+)$/i.exec(item);
    if (range !== null) {
      const [from, to] = [BigInt(range[1]!), BigInt(range[2]!)];
      if (from > to || to - from > 1_000_000n) throw new RangeError(`page range ${item} is empty or too large`);
      for (let p = from; p <= to; p++) pages.add(p);
    } else if (number.test(item)) {
      pages.add(BigInt(item));
    } else {
      const found = pagesOfSymbol(header, item, symbols);
      if (found.length === 0) {
        throw new RangeError(
          symbols.length === 0
            ? `'${item}' is not a page number, and the guest's symbols are unknown (give the recorded ELF with --guest)`
            : `no guest variable named '${item}'`,
        );
      }
      for (const p of found) pages.add(p);
    }
  }
  if (pages.size === 0) throw new RangeError('--pages names no page');
  return pages;
}
