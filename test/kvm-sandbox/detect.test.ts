import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { kvmPlacement, probeKvmDevice, type KvmDevice } from './detect.js';

const usable = (): KvmDevice => ({ usable: true });
const absent = (): KvmDevice => ({ usable: false, reason: '/dev/kvm does not exist' });

describe('where the KVM tests run', () => {
  it('detects: directly with a usable /dev/kvm, in the sandbox without', () => {
    expect(kvmPlacement({}, usable)).toEqual({ where: 'direct', reason: '/dev/kvm is usable' });
    expect(kvmPlacement({ RRKIT_KVM_SANDBOX: '' }, absent)).toEqual({ where: 'sandbox', reason: '/dev/kvm does not exist' });
  });

  it('RRKIT_KVM_SANDBOX forces the choice either way, without probing', () => {
    const probeNotCalled = (): KvmDevice => {
      throw new Error('probed');
    };
    expect(kvmPlacement({ RRKIT_KVM_SANDBOX: '1' }, probeNotCalled).where).toBe('sandbox');
    expect(kvmPlacement({ RRKIT_KVM_SANDBOX: '0' }, probeNotCalled).where).toBe('direct');
  });

  it('refuses any other value of RRKIT_KVM_SANDBOX', () => {
    expect(() => kvmPlacement({ RRKIT_KVM_SANDBOX: 'yes' }, usable)).toThrow("RRKIT_KVM_SANDBOX must be 1 (always the sandbox), 0 (never) or unset (detect), not 'yes'");
  });
});

describe('probing /dev/kvm', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rrkit-detect-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('says why a device is not usable', () => {
    expect(probeKvmDevice(join(dir, 'kvm'))).toEqual({ usable: false, reason: `${join(dir, 'kvm')} does not exist` });
    expect(probeKvmDevice(dir)).toEqual({ usable: false, reason: `${dir} does not open read-write (EISDIR)` });
  });

  it('calls a path that opens read-write usable', () => {
    const file = join(dir, 'device');
    writeFileSync(file, '');
    expect(probeKvmDevice(file)).toEqual({ usable: true });
  });
});
