/**
 * Where the sandbox keeps what it prepares: a git-ignored directory inside the project, so
 * that a fresh clone prepares its own and `git clean -X` starts over.
 */
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PROJECT_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export interface SandboxPaths {
  cacheDir: string;
  /** vmlinux, modules/NAME.ko and manifest.json, from Debian's kernel package. */
  kernelDir: string;
  vmlinux: string;
  modulesDir: string;
  kernelManifest: string;
  initramfs: string;
  /** Scratch space for the package download and its unpacked tree, deleted afterwards. */
  downloadDir: string;
  /** The host's static busybox (Debian's busybox-static), copied into the initramfs. */
  busybox: string;
}

export function sandboxPaths(cacheDir = join(PROJECT_DIR, '.cache', 'kvm-sandbox'), busybox = '/bin/busybox'): SandboxPaths {
  const kernelDir = join(cacheDir, 'kernel');
  return {
    cacheDir,
    kernelDir,
    vmlinux: join(kernelDir, 'vmlinux'),
    modulesDir: join(kernelDir, 'modules'),
    kernelManifest: join(kernelDir, 'manifest.json'),
    initramfs: join(cacheDir, 'initramfs.cpio'),
    downloadDir: join(cacheDir, 'download'),
    busybox,
  };
}
