// Builds rrkit's command line into one JavaScript file, dist/rrkit.mjs, from src/ (esbuild).
//
// One bundled file, not tsc's one-file-per-module output: Node resolves and compiles a single
// module instead of ~60 of ours and ~40 of yargs', which is what makes `rrkit` start in a
// tenth of a second (measured in `npm run bench`, "start-up"). Type checking is `npm run
// typecheck` (tsc); esbuild only strips types.
//
//   node scripts/build.mjs          (npm run build; run by npm ci/install and npm pack)
import { mkdirSync, readdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const bundlePath = join(root, 'dist', 'rrkit.mjs');

/** Inputs of the bundle: when any is newer than it, the bundle is stale. */
export function newestInputMtime() {
  let newest = 0;
  const visit = (path) => {
    const stat = statSync(path);
    if (stat.isDirectory()) for (const entry of readdirSync(path)) visit(join(path, entry));
    else newest = Math.max(newest, stat.mtimeMs);
  };
  for (const input of ['src', 'package.json', 'scripts/build.mjs', 'scripts/terminal-width.mjs']) visit(join(root, input));
  return newest;
}

export async function buildBundle() {
  // Imported here, so that checking whether a build is needed (bin/rrkit, every start) stays cheap.
  const { build } = await import('esbuild');
  mkdirSync(dirname(bundlePath), { recursive: true });
  const { outputFiles } = await build({
    write: false,
    entryPoints: [join(root, 'src', 'cli', 'main.ts')],
    outfile: bundlePath,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    sourcemap: 'linked',
    logLevel: 'warning',
    // yargs' help layout measures text with `string-width`, whose load alone costs more than the
    // rest of start-up; ./terminal-width.mjs measures the same for rrkit's text, loading nothing.
    alias: { 'string-width': join(root, 'scripts', 'terminal-width.mjs') },
    // The etcd client loads its gRPC protocol files from beside its own code at run time, and
    // only `--etcd` needs it (src/replication/etcd-lease.ts imports it when asked): left out.
    external: ['etcd3'],
    // Bundled CommonJS code (yargs' dependencies) calls require(); an ES module has none.
    banner: { js: "import { createRequire as rrkitCreateRequire } from 'node:module'; const require = rrkitCreateRequire(import.meta.url);" },
  });
  // Each file is written under a temporary name and renamed into place, so that an rrkit
  // started meanwhile (tests start many at once) never imports a half-written bundle.
  for (const file of outputFiles) {
    const part = `${file.path}.part${process.pid}`;
    writeFileSync(part, file.contents);
    renameSync(part, file.path);
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  await buildBundle();
  process.stderr.write(`built ${bundlePath}\n`);
}
