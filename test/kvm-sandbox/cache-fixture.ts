/** Test helper: a prepared-looking sandbox cache with stand-in files, in a temporary directory. */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { elfFile, modinfo } from './elf-fixture.js';
import { SANDBOX_MODULES } from './kernel-modules.js';
import type { KernelManifest } from './kernel-package.js';
import { sandboxPaths, type SandboxPaths } from './sandbox-paths.js';

export const FIXTURE_MODULES = ['irqbypass', 'kvm', 'kvm_amd'];

export function fakeCache(): { dir: string; paths: SandboxPaths; manifest: KernelManifest } {
  const dir = mkdtempSync(join(tmpdir(), 'rrkit-sandbox-cache-'));
  const busybox = join(dir, 'busybox');
  writeFileSync(busybox, elfFile([]), { mode: 0o755 }); // no PT_INTERP: static
  const paths = sandboxPaths(join(dir, 'cache'), busybox);
  mkdirSync(paths.modulesDir, { recursive: true });
  writeFileSync(paths.vmlinux, 'stand-in vmlinux');
  for (const name of FIXTURE_MODULES) writeFileSync(join(paths.modulesDir, `${name}.ko`), elfFile([modinfo({ name, depends: '' })]));
  const manifest: KernelManifest = {
    package: { name: 'linux-image-6.1.0-57-amd64', version: '6.1.192-3' },
    release: '6.1.0-57-amd64',
    wanted: [...SANDBOX_MODULES],
    loadOrder: FIXTURE_MODULES,
  };
  writeFileSync(paths.kernelManifest, JSON.stringify(manifest));
  return { dir, paths, manifest };
}
