/** The prepared kernel and the initramfs: what is checked before a boot, and when the initramfs is rebuilt. */
import { readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { fakeCache } from './cache-fixture.js';
import { elfFile } from './elf-fixture.js';
import { ensureInitramfs } from './initramfs.js';
import { checkKernel, kernelIsCurrent } from './kernel-package.js';
import { SandboxError } from './sandbox-error.js';

const dirs: string[] = [];
function cache() {
  const fixture = fakeCache();
  dirs.push(fixture.dir);
  return fixture;
}
afterEach(() => dirs.splice(0).forEach((dir) => rmSync(dir, { recursive: true, force: true })));

function sandboxError(action: () => unknown): SandboxError {
  try {
    action();
  } catch (error) {
    if (error instanceof SandboxError) return error;
    throw error;
  }
  throw new Error('no error');
}

describe('the prepared kernel', () => {
  it('is accepted when vmlinux, the manifest and every module are there', () => {
    const { paths, manifest } = cache();
    expect(checkKernel(paths)).toEqual(manifest);
  });

  it('missing: a one-line error naming the step, the file and the remedy', () => {
    const { paths } = cache();
    unlinkSync(paths.kernelManifest);
    const error = sandboxError(() => checkKernel(paths));
    expect(error.step).toBe('kernel');
    expect(error.message).toBe(
      `kvm sandbox, step 'kernel': no kernel prepared (${paths.kernelManifest} is missing): run ./setup.sh, or npx tsx test/kvm-sandbox/cli.ts prepare`,
    );
  });

  it('missing vmlinux or a module: named', () => {
    const first = cache();
    unlinkSync(first.paths.vmlinux);
    expect(sandboxError(() => checkKernel(first.paths)).message).toContain(`kernel image missing: ${first.paths.vmlinux}`);
    const second = cache();
    unlinkSync(join(second.paths.modulesDir, 'kvm.ko'));
    expect(sandboxError(() => checkKernel(second.paths)).message).toContain('kernel modules missing from');
    expect(sandboxError(() => checkKernel(second.paths)).message).toContain(': kvm:');
  });

  it('is current only for the same package, version and module list', () => {
    const { manifest } = cache();
    expect(kernelIsCurrent(manifest, manifest.package)).toBe(true);
    expect(kernelIsCurrent(manifest, { ...manifest.package, version: '6.1.193-1' })).toBe(false);
    expect(kernelIsCurrent({ ...manifest, wanted: ['kvm_amd'] }, manifest.package)).toBe(false);
    expect(kernelIsCurrent(undefined, manifest.package)).toBe(false);
  });
});

describe('the initramfs', () => {
  it('is built once, and rebuilt when an input changes', () => {
    const { paths, manifest } = cache();
    expect(ensureInitramfs(paths, manifest)).toEqual({ path: paths.initramfs, rebuilt: true });
    expect(ensureInitramfs(paths, manifest).rebuilt).toBe(false);
    const archive = readFileSync(paths.initramfs);
    expect(archive.includes('insmod /lib/modules/kvm_amd.ko')).toBe(true);
    writeFileSync(join(paths.modulesDir, 'kvm.ko'), elfFile([]));
    expect(ensureInitramfs(paths, manifest).rebuilt).toBe(true);
    expect(ensureInitramfs(paths, manifest).rebuilt).toBe(false);
  });

  it('needs a static busybox, and says how to get one', () => {
    const { paths, manifest } = cache();
    writeFileSync(paths.busybox, elfFile([], { interpreter: true }));
    const dynamic = sandboxError(() => ensureInitramfs(paths, manifest));
    expect(dynamic.step).toBe('initramfs');
    expect(dynamic.message).toContain('is dynamically linked: install busybox-static');
    unlinkSync(paths.busybox);
    expect(sandboxError(() => ensureInitramfs(paths, manifest)).message).toContain('is missing: install busybox-static');
  });
});
