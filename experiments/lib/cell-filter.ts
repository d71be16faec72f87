/**
 * `--cell engine=emu,workload=radix-sort,vcpus=4`: run only the cells whose key has every
 * named value (a cell matches when any one of the given filters matches it) — to rerun a
 * few cells with more repeats without the whole figure.
 */
import type { CellKey } from './figure.js';

export type CellFilter = ReadonlyMap<string, string>;

/** One `--cell` argument, as a map of column to value; a clear error for anything else. */
export function parseCellFilter(text: string): CellFilter {
  const filter = new Map<string, string>();
  for (const part of text.split(',')) {
    const match = /^\s*([A-Za-z_]+)\s*=\s*(\S+)\s*$/.exec(part);
    if (match === null) throw new Error(`--cell ${text}: "${part}" is not COLUMN=VALUE (e.g. engine=emu,workload=radix-sort,vcpus=4)`);
    if (filter.has(match[1]!)) throw new Error(`--cell ${text}: ${match[1]} is named twice`);
    filter.set(match[1]!, match[2]!);
  }
  return filter;
}

/** Whether a cell's key has every value the filter names (numbers compared as text). */
export function cellMatches(key: CellKey, filter: CellFilter): boolean {
  for (const [column, value] of filter) {
    if (!(column in key) || String(key[column]) !== value) return false;
  }
  return true;
}

/** The cells any filter matches; every cell when there are no filters. */
export function selectCells<T extends { key: CellKey }>(cells: readonly T[], filters: readonly CellFilter[]): T[] {
  return filters.length === 0 ? [...cells] : cells.filter((cell) => filters.some((filter) => cellMatches(cell.key, filter)));
}
