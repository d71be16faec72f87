/**
 * Where the KVM tests run: directly, where /dev/kvm is usable, or inside the sandbox (real
 * KVM in QEMU's emulation) where it is not. "Usable" means /dev/kvm exists and opens
 * read-write, which is what every KVM ioctl needs. RRKIT_KVM_SANDBOX forces the choice.
 */
import { closeSync, openSync } from 'node:fs';

/** 1: always the sandbox; 0: never (the KVM tests then fail where /dev/kvm is unusable); unset: detect. */
export const SANDBOX_VARIABLE = 'RRKIT_KVM_SANDBOX';
export const KVM_DEVICE = '/dev/kvm';

export type KvmDevice = { usable: true } | { usable: false; reason: string };
export type KvmPlacement = { where: 'direct' | 'sandbox'; reason: string };

/** Whether /dev/kvm opens read-write, and why not. */
export function probeKvmDevice(path = KVM_DEVICE): KvmDevice {
  try {
    closeSync(openSync(path, 'r+'));
    return { usable: true };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason =
      code === 'ENOENT' ? `${path} does not exist` :
      code === 'EACCES' || code === 'EPERM' ? `no permission to open ${path} read-write` :
      `${path} does not open read-write (${code ?? (error as Error).message})`;
    return { usable: false, reason };
  }
}

/** Where the KVM tests run; throws on a value of RRKIT_KVM_SANDBOX other than 0, 1 or empty. */
export function kvmPlacement(env: NodeJS.ProcessEnv = process.env, probe: () => KvmDevice = probeKvmDevice): KvmPlacement {
  const forced = env[SANDBOX_VARIABLE];
  if (forced === '1') return { where: 'sandbox', reason: `${SANDBOX_VARIABLE}=1` };
  if (forced === '0') return { where: 'direct', reason: `${SANDBOX_VARIABLE}=0` };
  if (forced !== undefined && forced !== '') {
    throw new RangeError(`${SANDBOX_VARIABLE} must be 1 (always the sandbox), 0 (never) or unset (detect), not '${forced}'`);
  }
  const device = probe();
  return device.usable
    ? { where: 'direct', reason: `${KVM_DEVICE} is usable` }
    : { where: 'sandbox', reason: device.reason };
}
