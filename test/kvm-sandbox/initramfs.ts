/**
 * The sandbox's initramfs: a static busybox, the modules in load order and /init. It is
 * a few MB and built in memory in milliseconds, so "rebuilt when its inputs change" is exact:
 * the archive is built from the current inputs and the cached file rewritten when its bytes
 * differ (the archive has fixed timestamps, so the same inputs give the same bytes).
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cpioArchive, type CpioEntry } from './cpio.js';
import { isStaticExecutable } from './elf.js';
import { MODULES_DIR, initScript } from './init-script.js';
import type { KernelManifest } from './kernel-package.js';
import { SandboxError } from './sandbox-error.js';
import type { SandboxPaths } from './sandbox-paths.js';

export interface InitramfsInputs {
  busybox: Buffer;
  modules: { name: string; data: Buffer }[];
}

/** The archive's entries: the directories, /dev/console (the kernel opens it for /init), the files. */
export function initramfsEntries(inputs: InitramfsInputs): CpioEntry[] {
  const dirs = ['bin', 'dev', 'proc', 'sys', 'mnt', 'lib', MODULES_DIR];
  return [
    ...dirs.map((path): CpioEntry => ({ kind: 'dir', path })),
    { kind: 'chardev', path: 'dev/console', major: 5, minor: 1 },
    { kind: 'file', path: 'bin/busybox', data: inputs.busybox, mode: 0o755 },
    ...inputs.modules.map((m): CpioEntry => ({ kind: 'file', path: `${MODULES_DIR}/${m.name}.ko`, data: m.data })),
    { kind: 'file', path: 'init', data: Buffer.from(initScript({ modules: inputs.modules.map((m) => m.name) })), mode: 0o755 },
  ];
}

/** Builds the initramfs from the cached kernel and the host's busybox, rewriting the file if it changed. */
export function ensureInitramfs(paths: SandboxPaths, kernel: KernelManifest): { path: string; rebuilt: boolean } {
  const busyboxPath = paths.busybox;
  if (!existsSync(busyboxPath)) {
    throw new SandboxError('initramfs', `${busyboxPath} is missing: install busybox-static (./setup.sh does)`);
  }
  const busybox = readFileSync(busyboxPath);
  if (!isStaticExecutable(busybox)) {
    throw new SandboxError('initramfs', `${busyboxPath} is dynamically linked: install busybox-static (./setup.sh does)`);
  }
  const modules = kernel.loadOrder.map((name) => ({ name, data: readFileSync(join(paths.modulesDir, `${name}.ko`)) }));
  const archive = cpioArchive(initramfsEntries({ busybox, modules }));
  const current = existsSync(paths.initramfs) ? readFileSync(paths.initramfs) : undefined;
  if (current?.equals(archive)) return { path: paths.initramfs, rebuilt: false };
  // Written aside and renamed, so that a QEMU started by a concurrent run never reads half a file.
  const partial = `${paths.initramfs}.${process.pid}.partial`;
  writeFileSync(partial, archive);
  renameSync(partial, paths.initramfs);
  return { path: paths.initramfs, rebuilt: true };
}
