/**
 * How the sandbox's /init reports to the host, both sides in one place: lines on the
 * emulated machine's console (its first serial port) and a final byte to QEMU's
 * isa-debug-exit device, which ends QEMU with status (byte << 1) | 1.
 *
 *   rrkit-sandbox: step NAME           /init begins a step
 *   rrkit-sandbox: failed NAME: TEXT   the step failed (then exit byte FAILED)
 *   rrkit-sandbox: status N            the command exited with N (then exit byte DONE)
 *
 * The exit bytes give QEMU statuses (33 and 35) that QEMU never uses for its own errors (1).
 */

/** The steps of a sandbox run, in order; the host-side ones come before /init's. */
export const SANDBOX_STEPS = [
  'kernel', // the cached vmlinux and modules are there
  'initramfs', // /init, busybox and the modules packed
  'qemu', // QEMU starts
  'boot', // the kernel reaches /init
  'modules', // insmod of each module
  'kvm', // /dev/kvm appears
  '9p', // the host's root and the run directory are mounted
  'overlay', // a tmpfs upper layer over the host's root
  'chroot', // /proc, /sys, /dev and the run directory inside the new root
  'command', // the command runs
] as const;
export type SandboxStep = (typeof SANDBOX_STEPS)[number];

/** The steps that /init itself announces. */
export const INIT_STEPS = SANDBOX_STEPS.slice(SANDBOX_STEPS.indexOf('modules'));

export const MARKER = 'rrkit-sandbox:';
export const DEBUG_EXIT_PORT = 0xf4;
export const EXIT_BYTE = { done: 0x10, failed: 0x11 } as const;

/** QEMU's own exit status for a byte written to isa-debug-exit. */
export function qemuStatusForExitByte(byte: number): number {
  return (byte << 1) | 1;
}

export type ConsoleEvent =
  | { kind: 'step'; step: SandboxStep }
  | { kind: 'failed'; step: SandboxStep; message: string }
  | { kind: 'status'; status: number };

const MARKER_LINE = /rrkit-sandbox: (step|failed|status) ([\w-]+)(?:: (.*))?$/;

function isStep(name: string): name is SandboxStep {
  return (SANDBOX_STEPS as readonly string[]).includes(name);
}

/**
 * The event a console line carries, if any. The marker may follow other text on the line
 * (a kernel message that the serial port interleaved), so it is matched anywhere.
 */
export function parseConsoleLine(line: string): ConsoleEvent | undefined {
  const match = MARKER_LINE.exec(line.replace(/\r$/, ''));
  if (!match) return undefined;
  const [, kind, value = '', message = ''] = match;
  if (kind === 'status') return /^\d+$/.test(value) ? { kind, status: Number(value) } : undefined;
  if (!isStep(value)) return undefined;
  return kind === 'step' ? { kind, step: value } : { kind: 'failed', step: value, message };
}

/** Shell functions for /init (busybox sh) that print the markers above and leave QEMU. */
export function initReportingFunctions(): string {
  return `say() { echo "${MARKER} $*"; }
# Waits until both serial ports have sent everything (stty sets with TCSADRAIN), then ends
# QEMU through isa-debug-exit: one byte written to port ${DEBUG_EXIT_PORT} through /dev/port.
leave() {
  stty -F /dev/ttyS0 115200; stty -F /dev/ttyS1 115200
  printf "\\\\$(printf %o "$1")" | dd of=/dev/port bs=1 seek=${DEBUG_EXIT_PORT} count=1 2>/dev/null
  poweroff -f
}
step() { current_step=$1; say "step $1"; }
fail() {
  say "failed $current_step: $*"
  echo "--- last kernel messages ---"; dmesg | tail -n 20
  leave ${EXIT_BYTE.failed}
}
`;
}
