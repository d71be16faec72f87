/**
 * The QEMU command line of the sandbox: TCG emulating an AMD EPYC (SVM, so that kvm_amd
 * loads inside), one vCPU (two were slower on a 2-core host), the vmlinux booted through its
 * PVH note, the console (ttyS0) on a Unix socket the host listens on, the command's output
 * (ttyS1) on QEMU's stdout, the host's / read-only and the run directory read-write over 9p,
 * and isa-debug-exit for the result. -nodefaults: no NIC, so no network at all.
 */
import { DEBUG_EXIT_PORT } from './console-protocol.js';
import { HOST_ROOT_TAG, RUN_DIR_PARAM, RUN_DIR_TAG } from './init-script.js';

export const QEMU = 'qemu-system-x86_64';

export interface QemuOptions {
  vmlinux: string;
  initramfs: string;
  runDir: string;
  consoleSocket: string;
  memoryMiB: number;
}

/** QEMU's option syntax splits on commas and the kernel command line on spaces: allow neither. */
const PLAIN_PATH = /^\/[\w./+@%=~-]*$/;

export function qemuArgs(opts: QemuOptions): string[] {
  for (const [what, path] of Object.entries({ vmlinux: opts.vmlinux, initramfs: opts.initramfs, runDir: opts.runDir, consoleSocket: opts.consoleSocket })) {
    if (!PLAIN_PATH.test(path)) throw new RangeError(`${what} must be an absolute path without spaces or commas: '${path}'`);
  }
  if (!Number.isInteger(opts.memoryMiB) || opts.memoryMiB < 256) throw new RangeError(`memoryMiB must be an integer >= 256, not ${opts.memoryMiB}`);
  const kernelArgs = ['console=ttyS0', 'quiet', 'panic=-1', `${RUN_DIR_PARAM}=${opts.runDir}`];
  return [
    '-accel', 'tcg',
    '-cpu', 'EPYC',
    '-smp', '1',
    '-m', `${opts.memoryMiB}M`,
    '-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot',
    '-kernel', opts.vmlinux,
    '-initrd', opts.initramfs,
    '-append', kernelArgs.join(' '),
    '-chardev', `socket,id=console,path=${opts.consoleSocket}`,
    '-serial', 'chardev:console',
    '-chardev', 'stdio,id=output,signal=off',
    '-serial', 'chardev:output',
    '-virtfs', `local,path=/,mount_tag=${HOST_ROOT_TAG},security_model=none,readonly=on,multidevs=remap`,
    '-virtfs', `local,path=${opts.runDir},mount_tag=${RUN_DIR_TAG},security_model=none,multidevs=remap`,
    '-device', `isa-debug-exit,iobase=${DEBUG_EXIT_PORT},iosize=4`,
  ];
}
