/**
 * The sandbox's kernel: Debian's own kernel package, fetched with `apt-get download` and
 * unpacked with `dpkg -x` (never installed), from which the uncompressed vmlinux and the few
 * modules the sandbox loads are copied into the cache; the download and the unpacked tree
 * (~400 MB) are then deleted.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SANDBOX_MODULES, moduleInfo, moduleKey, moduleLoadOrder } from './kernel-modules.js';
import { SandboxError } from './sandbox-error.js';
import type { SandboxPaths } from './sandbox-paths.js';
import { extractVmlinux } from './vmlinux.js';

/** Pins the kernel package (e.g. linux-image-6.1.0-57-amd64) instead of Debian's current one. */
export const KERNEL_PACKAGE_VARIABLE = 'RRKIT_KVM_SANDBOX_KERNEL_PACKAGE';
/** Debian's metapackage that depends on the current kernel image. */
const KERNEL_METAPACKAGE = 'linux-image-amd64';

export interface KernelPackage {
  name: string;
  version: string;
}

export interface KernelManifest {
  package: KernelPackage;
  /** The kernel release (uname -r), the directory name under /lib/modules. */
  release: string;
  /** The modules the sandbox asked for, and the load order with their dependencies. */
  wanted: string[];
  loadOrder: string[];
}

function run(command: string, args: string[], cwd?: string): string {
  try {
    return execFileSync(command, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
  } catch (error) {
    const stderr = String((error as { stderr?: unknown }).stderr ?? '').trim().split('\n').slice(-3).join(' ');
    throw new Error(`${command} ${args.join(' ')} failed: ${stderr || (error as Error).message}`);
  }
}

/**
 * The kernel package to use: the pinned one, or the one Debian's metapackage depends on now
 * (its Depends names the exact version, so one apt-cache call answers; each takes seconds
 * where apt keeps no binary cache).
 */
export function wantedKernelPackage(env: NodeJS.ProcessEnv = process.env): KernelPackage {
  const pinned = env[KERNEL_PACKAGE_VARIABLE];
  if (pinned) {
    const version = /^Version: (\S+)/m.exec(run('apt-cache', ['show', '--no-all-versions', pinned]));
    if (!version?.[1]) throw new Error(`apt-cache has no version of ${pinned} (run apt-get update)`);
    return { name: pinned, version: version[1] };
  }
  const depends = /^Depends: (linux-image-[\w.+-]+) \(= ([^)\s]+)\)/m.exec(run('apt-cache', ['show', '--no-all-versions', KERNEL_METAPACKAGE]));
  if (!depends?.[1] || !depends[2]) throw new Error(`apt-cache knows no ${KERNEL_METAPACKAGE} that depends on one kernel version (run apt-get update)`);
  return { name: depends[1], version: depends[2] };
}

export function readKernelManifest(paths: SandboxPaths): KernelManifest | undefined {
  if (!existsSync(paths.kernelManifest)) return undefined;
  return JSON.parse(readFileSync(paths.kernelManifest, 'utf8')) as KernelManifest;
}

/** Whether the cached kernel is `wanted` with the modules the sandbox loads now. */
export function kernelIsCurrent(manifest: KernelManifest | undefined, wanted: KernelPackage): boolean {
  return (
    manifest !== undefined &&
    manifest.package.name === wanted.name &&
    manifest.package.version === wanted.version &&
    manifest.wanted.join() === SANDBOX_MODULES.join()
  );
}

/**
 * The cached kernel, checked before a boot: vmlinux, the manifest and every module file.
 * Throws a SandboxError (step 'kernel') that says to run ./setup.sh when anything is missing.
 */
export function checkKernel(paths: SandboxPaths): KernelManifest {
  const remedy = 'run ./setup.sh, or npx tsx test/kvm-sandbox/cli.ts prepare';
  const manifest = readKernelManifest(paths);
  if (!manifest) throw new SandboxError('kernel', `no kernel prepared (${paths.kernelManifest} is missing): ${remedy}`);
  if (!existsSync(paths.vmlinux)) throw new SandboxError('kernel', `kernel image missing: ${paths.vmlinux}: ${remedy}`);
  const missing = manifest.loadOrder.filter((name) => !existsSync(join(paths.modulesDir, `${name}.ko`)));
  if (missing.length > 0) throw new SandboxError('kernel', `kernel modules missing from ${paths.modulesDir}: ${missing.join(', ')}: ${remedy}`);
  return manifest;
}

/** Every module file under a kernel's module tree, by module name. */
function moduleFiles(treeModulesDir: string): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      const match = /^(.+)\.ko(\.xz)?$/.exec(entry.name);
      if (entry.isFile() && match?.[1]) files.set(moduleKey(match[1]), path);
    }
  };
  walk(treeModulesDir);
  return files;
}

function readModule(path: string): Buffer {
  return path.endsWith('.xz') ? execFileSync('xz', ['-dc', path], { maxBuffer: 256 << 20 }) : readFileSync(path);
}

/**
 * Downloads and unpacks `wanted`, copies vmlinux and the modules into the cache, writes the
 * manifest last (so that a half-done preparation never looks done) and deletes the rest.
 */
export function fetchKernel(paths: SandboxPaths, wanted: KernelPackage, log: (line: string) => void = () => {}): KernelManifest {
  const download = paths.downloadDir;
  const staging = `${paths.kernelDir}.new`;
  rmSync(download, { recursive: true, force: true });
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(download, { recursive: true });
  try {
    log(`apt-get download ${wanted.name}=${wanted.version}`);
    run('apt-get', ['download', `${wanted.name}=${wanted.version}`], download);
    const deb = readdirSync(download).find((f) => f.endsWith('.deb'));
    if (!deb) throw new Error(`apt-get download left no .deb in ${download}`);
    const tree = join(download, 'tree');
    log(`dpkg -x ${deb}`);
    run('dpkg', ['-x', join(download, deb), tree]);

    const vmlinuz = readdirSync(join(tree, 'boot')).find((f) => f.startsWith('vmlinuz-'));
    if (!vmlinuz) throw new Error(`${wanted.name} has no /boot/vmlinuz-*`);
    const release = vmlinuz.slice('vmlinuz-'.length);
    mkdirSync(join(staging, 'modules'), { recursive: true });
    log(`extracting vmlinux from ${vmlinuz}`);
    writeFileSync(join(staging, 'vmlinux'), extractVmlinux(readFileSync(join(tree, 'boot', vmlinuz))));

    const files = moduleFiles(join(tree, 'lib', 'modules', release, 'kernel'));
    const loadOrder = moduleLoadOrder(SANDBOX_MODULES, (name) => {
      const file = files.get(name);
      return file ? moduleInfo(readModule(file)).depends : undefined;
    });
    for (const name of loadOrder) writeFileSync(join(staging, 'modules', `${name}.ko`), readModule(files.get(name)!));
    const manifest: KernelManifest = { package: wanted, release, wanted: [...SANDBOX_MODULES], loadOrder };
    writeFileSync(join(staging, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);

    rmSync(paths.kernelDir, { recursive: true, force: true });
    renameSync(staging, paths.kernelDir);
    log(`kernel ${release}: vmlinux and ${loadOrder.length} modules in ${paths.kernelDir}`);
    return manifest;
  } catch (error) {
    throw new SandboxError('kernel', `preparing ${wanted.name} ${wanted.version} failed: ${(error as Error).message}`);
  } finally {
    rmSync(download, { recursive: true, force: true });
    rmSync(staging, { recursive: true, force: true });
  }
}
