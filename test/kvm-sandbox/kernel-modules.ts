/**
 * Which kernel modules the sandbox loads, and in what order. Debian's kernel package has no
 * modules.dep (depmod writes it at install time, and the package is only unpacked), so the
 * order comes from each module's own `.modinfo` section: `name=` and `depends=`.
 */
import { elfSections } from './elf.js';

/**
 * The modules the sandbox needs: KVM on the emulated AMD CPU (SVM), virtio-pci and 9p to
 * mount the host's root, overlayfs to make it writable. Their dependencies come along.
 */
export const SANDBOX_MODULES = ['kvm_amd', 'virtio_pci', '9pnet_virtio', '9p', 'overlay'] as const;

export interface ModuleInfo {
  name: string;
  depends: string[];
}

/** Module names compare with '-' and '_' as one (kvm-amd.ko is the module kvm_amd). */
export function moduleKey(name: string): string {
  return name.replace(/-/g, '_');
}

/** The name and dependencies a .ko file declares in its .modinfo section. */
export function moduleInfo(ko: Buffer): ModuleInfo {
  const section = elfSections(ko).find((s) => s.name === '.modinfo');
  if (!section) throw new Error('no .modinfo section (not a kernel module?)');
  const fields = ko
    .toString('latin1', section.offset, section.offset + section.size)
    .split('\0')
    .filter((field) => field.includes('='));
  const value = (key: string) => fields.find((f) => f.startsWith(`${key}=`))?.slice(key.length + 1);
  const name = value('name');
  if (!name) throw new Error('.modinfo has no name= field');
  const depends = (value('depends') ?? '').split(',').filter((d) => d.length > 0).map(moduleKey);
  return { name: moduleKey(name), depends };
}

/**
 * The load order for `wanted` and everything they depend on: each module after its
 * dependencies, in the order first reached. `lookup` gives a module's dependencies, or
 * undefined when the kernel has no such module file.
 */
export function moduleLoadOrder(wanted: readonly string[], lookup: (name: string) => string[] | undefined): string[] {
  const order: string[] = [];
  const visiting: string[] = [];
  const visit = (name: string, neededBy: string | undefined) => {
    const key = moduleKey(name);
    if (order.includes(key)) return;
    if (visiting.includes(key)) throw new Error(`module dependency cycle: ${[...visiting, key].join(' -> ')}`);
    const depends = lookup(key);
    if (!depends) throw new Error(`kernel has no module ${key}${neededBy ? ` (needed by ${neededBy})` : ''}`);
    visiting.push(key);
    for (const dependency of depends) visit(dependency, key);
    visiting.pop();
    order.push(key);
  };
  for (const name of wanted) visit(name, undefined);
  return order;
}
