/**
 * Where a CREW page lies in the guest: its guest-physical address and the guest's data
 * objects on it, named from the recorded image's symbols. `log stats` names its hottest
 * pages this way, and `log timeline` each transfer.
 */
import { readRegularFile } from '../files/regular-file.js';
import { MAX_GUEST_IMAGE_BYTES, sha256Of } from '../guests/image.js';
import { readGuestSymbols, symbolsIn, type GuestSymbol } from './guest-symbols.js';
import type { LogHeader } from './log-reader.js';

/** Where CREW numbers pages from: emu's RAM base; kvm's guest-physical 0 (docs/platform.md). */
const CREW_PAGE_BASE: Readonly<Record<string, bigint>> = { emu: 0x8000_0000n, kvm: 0n };

/** At most this many variable names per page. */
const NAMES_PER_PAGE = 4;

/** The guest-physical bytes [start, end) of `page`, or 'devices' for the one CREW page after RAM; undefined when the log has no CREW pages. */
export function pageRange(header: LogHeader, page: bigint): { start: bigint; end: bigint } | 'devices' | undefined {
  const base = CREW_PAGE_BASE[header.engine];
  if (base === undefined || header.crewGranularity === 0) return undefined;
  const granularity = BigInt(header.crewGranularity);
  const ramPages = (BigInt(header.ramMib) << 20n) / granularity;
  if (page >= ramPages) return 'devices';
  const start = base + page * granularity;
  return { start, end: start + granularity };
}

/** The names of the data objects on `page` (at most NAMES_PER_PAGE, then '…'). */
export function pageSymbols(header: LogHeader, page: bigint, symbols: readonly GuestSymbol[]): string[] {
  const range = pageRange(header, page);
  if (range === undefined || range === 'devices') return [];
  const names = symbolsIn(symbols, range.start, range.end);
  return names.length > NAMES_PER_PAGE ? [...names.slice(0, NAMES_PER_PAGE), '…'] : names;
}

/**
 * "guest 0x80001000: counts, barrier", "devices" (the one page after RAM that stands for
 * the UART and CLINT, docs/crew.md), or '' when the log has no CREW pages.
 */
export function pageLocation(header: LogHeader, page: bigint, symbols: readonly GuestSymbol[]): string {
  const range = pageRange(header, page);
  if (range === undefined) return '';
  if (range === 'devices') return header.engine === 'kvm' ? 'console' : 'devices';
  const names = pageSymbols(header, page, symbols);
  return `guest 0x${range.start.toString(16)}${names.length > 0 ? `: ${names.join(', ')}` : ''}`;
}

/** The CREW pages that hold any part of the data object called `name`; [] when no symbol has that name. */
export function pagesOfSymbol(header: LogHeader, name: string, symbols: readonly GuestSymbol[]): bigint[] {
  const granularity = BigInt(header.crewGranularity);
  const base = CREW_PAGE_BASE[header.engine];
  if (base === undefined || granularity === 0n) return [];
  const pages: bigint[] = [];
  for (const s of symbols) {
    if (s.name !== name) continue;
    for (let p = (s.address - base) / granularity; base + p * granularity < s.address + s.size; p++) pages.push(p);
  }
  return pages;
}

/**
 * The data objects of the image at `path` if it is the one hashed `imageHashHex`; else none.
 * The path may come from the log's header: only a regular file of a guest image's size is read.
 */
export function recordedImageSymbols(path: string, imageHashHex: string): GuestSymbol[] {
  let image: Buffer;
  try {
    image = readRegularFile(path, 'guest image', MAX_GUEST_IMAGE_BYTES);
  } catch {
    return [];
  }
  if (sha256Of(image).toString('hex') !== imageHashHex) return [];
  try {
    return readGuestSymbols(image);
  } catch {
    return [];
  }
}
