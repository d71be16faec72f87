/**
 * Logs made by record/replay tests live in a temporary folder that is removed when the
 * test passes and kept, with its path printed, when it fails — so a failure can be
 * replayed, dumped and bisected by hand.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onTestFinished } from 'vitest';

/** A fresh folder for this test's logs; call inside a test. */
export function logFolder(label: string): string {
  const dir = mkdtempSync(join(tmpdir(), `rrkit-${label.replace(/[^a-z0-9.-]+/gi, '_')}-`));
  onTestFinished(({ task }) => {
    if (task.result?.state === 'fail') {
      process.stderr.write(`rrkit test: kept the logs of the failed test "${label}" in ${dir}\n`);
    } else {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  return dir;
}
