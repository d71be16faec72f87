/**
 * The figures `npm run experiments` knows, in the order it runs them, and how a name or a
 * path becomes a figure: a module exporting `figure` (declared trials, the runner runs them),
 * or a script that writes its own results (experiments/failover.ts, run whole as one trial).
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { repoRoot } from '../../src/native.js';
import type { Figure } from './figure.js';

export const FIGURE_NAMES = [
  'uniprocessor-overhead',
  'smp-overhead',
  'log-rate',
  'crew-granularity',
  'interrupt-delay',
  'qemu-comparison',
  'failover',
] as const;

/** What a figure missing from this commit waits for. */
const COMES_WITH: Readonly<Record<string, string>> = {
  failover: 'experiments/failover.ts comes with replication (the repl branch)',
};

export type LoadedFigure =
  | { kind: 'declared'; name: string; module: string; figure: Figure }
  | { kind: 'script'; name: string; module: string }
  | { kind: 'missing'; name: string; reason: string };

/** A figure by name (EXPERIMENTS_DIR/NAME.ts) or by the path of a module. */
export async function loadFigure(nameOrPath: string, experimentsDir = join(repoRoot, 'experiments')): Promise<LoadedFigure> {
  const isPath = nameOrPath.endsWith('.ts') || nameOrPath.includes('/');
  const module = isPath ? resolve(nameOrPath) : join(experimentsDir, `${nameOrPath}.ts`);
  const name = isPath ? basename(module, '.ts') : nameOrPath;
  if (!existsSync(module)) {
    if (!isPath && (FIGURE_NAMES as readonly string[]).includes(name)) {
      return { kind: 'missing', name, reason: `not available on this commit: ${COMES_WITH[name] ?? `${module} does not exist`}` };
    }
    throw new Error(`no figure '${nameOrPath}' (figures: ${FIGURE_NAMES.join(', ')}; or the path of a module that exports \`figure\`)`);
  }
  // A script runs its experiment when imported: only a module that declares a figure is imported.
  if (!/export const figure\b/.test(readFileSync(module, 'utf8'))) return { kind: 'script', name, module };
  const { figure } = (await import(pathToFileURL(module).href)) as { figure?: Figure };
  if (figure === undefined) throw new Error(`${module} does not export a figure`);
  return { kind: 'declared', name: figure.name, module, figure };
}
