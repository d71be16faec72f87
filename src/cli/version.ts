/**
 * `rrkit --version`: the package's version and, when rrkit runs from a git checkout, the
 * commit (with `-dirty` when the work tree has changes), so that a result can be traced to
 * the code that made it.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../native.js';

function gitDescription(root: string): string | undefined {
  if (!existsSync(join(root, '.git'))) return undefined;
  try {
    const git = (...args: string[]) => execFileSync('git', ['-C', root, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const commit = git('rev-parse', '--short=12', 'HEAD').trim();
    const dirty = git('status', '--porcelain', '--untracked-files=no').trim() !== '';
    return `${commit}${dirty ? '-dirty' : ''}`;
  } catch {
    return undefined; // git missing, or not a repository after all
  }
}

export function versionText(root = repoRoot): string {
  const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
  const git = gitDescription(root);
  return git === undefined ? `rrkit ${version}` : `rrkit ${version} (git ${git})`;
}
