import { describe, expect, it } from 'vitest';
import { elfFile, modinfo } from './elf-fixture.js';
import { moduleInfo, moduleLoadOrder } from './kernel-modules.js';

describe('kernel modules', () => {
  it('reads name and dependencies from .modinfo, with - and _ as one', () => {
    const ko = elfFile([modinfo({ license: 'GPL', depends: 'kvm,ccp', name: 'kvm_amd', vermagic: '6.1.0' })]);
    expect(moduleInfo(ko)).toEqual({ name: 'kvm_amd', depends: ['kvm', 'ccp'] });
    const noDeps = elfFile([modinfo({ depends: '', name: 'irq-bypass' })]);
    expect(moduleInfo(noDeps)).toEqual({ name: 'irq_bypass', depends: [] });
  });

  it('says what is wrong with a file that is not a module', () => {
    expect(() => moduleInfo(elfFile([]))).toThrow(/no \.modinfo/);
    expect(() => moduleInfo(Buffer.from('text'))).toThrow(/not an ELF64/);
  });

  const deps: Record<string, string[]> = {
    kvm_amd: ['kvm', 'ccp'],
    kvm: ['irqbypass'],
    irqbypass: [],
    ccp: [],
    '9p': ['9pnet', 'netfs'],
    '9pnet': [],
    netfs: [],
  };

  it('orders every module after its dependencies, once each', () => {
    expect(moduleLoadOrder(['kvm-amd', '9p', 'kvm'], (n) => deps[n])).toEqual(['irqbypass', 'kvm', 'ccp', 'kvm_amd', '9pnet', 'netfs', '9p']);
  });

  it('names the module that needs a missing one, and a cycle', () => {
    expect(() => moduleLoadOrder(['kvm_amd'], (n) => (n === 'ccp' ? undefined : deps[n]))).toThrow('kernel has no module ccp (needed by kvm_amd)');
    const cyclic: Record<string, string[]> = { a: ['b'], b: ['a'] };
    expect(() => moduleLoadOrder(['a'], (n) => cyclic[n])).toThrow('module dependency cycle: a -> b -> a');
  });
});
