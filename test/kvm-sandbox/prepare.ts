/**
 * Prepares the sandbox once: Debian's current kernel package into the cache (only when it
 * is not there or Debian's changed), then the initramfs. Quick when nothing changed.
 */
import { mkdirSync } from 'node:fs';
import { ensureInitramfs } from './initramfs.js';
import { checkKernel, fetchKernel, kernelIsCurrent, readKernelManifest, wantedKernelPackage, type KernelManifest } from './kernel-package.js';
import { SandboxError } from './sandbox-error.js';
import { sandboxPaths, type SandboxPaths } from './sandbox-paths.js';

export interface Prepared {
  kernel: KernelManifest;
  fetchedKernel: boolean;
  rebuiltInitramfs: boolean;
}

export function prepareSandbox(paths: SandboxPaths = sandboxPaths(), log: (line: string) => void = () => {}): Prepared {
  mkdirSync(paths.cacheDir, { recursive: true });
  const cached = readKernelManifest(paths);
  let fetchedKernel = false;
  try {
    const wanted = wantedKernelPackage();
    if (!kernelIsCurrent(cached, wanted)) {
      fetchKernel(paths, wanted, log);
      fetchedKernel = true;
    }
  } catch (error) {
    if (error instanceof SandboxError || !cached) {
      throw error instanceof SandboxError ? error : new SandboxError('kernel', (error as Error).message);
    }
    log(`keeping the cached kernel ${cached.package.name} ${cached.package.version}: ${(error as Error).message}`);
  }
  const kernel = checkKernel(paths);
  const initramfs = ensureInitramfs(paths, kernel);
  log(`sandbox ready: kernel ${kernel.release} (${kernel.package.name} ${kernel.package.version}), ${initramfs.path}${initramfs.rebuilt ? ' (rebuilt)' : ''}`);
  return { kernel, fetchedKernel, rebuiltInitramfs: initramfs.rebuilt };
}
