/**
 * The bundle's stand-in for `string-width` (scripts/terminal-width.mjs) lays out yargs' help:
 * it must count columns as a terminal does, or help text wraps in the wrong places.
 */
import { describe, expect, it } from 'vitest';
import terminalWidth from '../scripts/terminal-width.mjs';

describe('terminal width of help text', () => {
  it.each([
    ['plain ASCII', 'record a guest', 14],
    ['colour escapes take no columns', '\u001b[31mred\u001b[39m', 3],
    ['hyperlink escapes take no columns', '\u001b]8;;https://example.org\u0007link\u001b]8;;\u0007', 4],
    ['East Asian wide characters take two', '日本', 4],
    ['combining marks take none', 'e\u0301', 1],
    ['symbols rrkit prints take one each', '≤ ÷ × →', 7],
    ['the empty string', '', 0],
  ])('%s', (_name, text, columns) => {
    expect(terminalWidth(text)).toBe(columns);
  });
});
