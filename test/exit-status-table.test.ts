/**
 * The README's exit-status table is src/cli/exit-status.ts: every status rrkit uses is a row,
 * and every numbered row is a status rrkit uses (issue 10: "the README's exit-status table
 * matches the code").
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { EXIT } from '../src/cli/exit-status.js';

const README = readFileSync(join(import.meta.dirname, '..', 'README.md'), 'utf8');

/** The statuses in the first column of the table under "#### Exit statuses". */
function tableStatuses(): number[] {
  const section = README.split(/^#### Exit statuses$/m)[1];
  expect(section, 'README.md has an "#### Exit statuses" section').toBeDefined();
  const rows = section!.split(/\n\n/).find((block) => block.trimStart().startsWith('| status'));
  expect(rows, 'the section has a table').toBeDefined();
  const statuses: number[] = [];
  for (const line of rows!.trim().split('\n').slice(2)) {
    const first = line.split('|')[1]!.trim();
    for (const n of first.matchAll(/\b\d+\b/g)) statuses.push(Number(n[0]));
  }
  return statuses;
}

test('every status rrkit uses has a row, and every numbered row is one rrkit uses', () => {
  const inTable = [...new Set(tableStatuses())].sort((a, b) => a - b);
  const inCode = [...new Set(Object.values(EXIT))].sort((a, b) => a - b);
  expect(inTable).toEqual(inCode);
});
