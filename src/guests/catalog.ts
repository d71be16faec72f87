/**
 * The built-in guest workloads (guests/workloads/*.c) as data, and how a GUEST argument
 * (a workload's name or the path of an ELF) becomes an ELF path.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { printable } from '../files/printable.js';

export type GuestArch = 'rv64' | 'x86_64';
export const GUEST_ARCHES: readonly GuestArch[] = ['rv64', 'x86_64'];

/**
 * compute: private data; sharing: harts share memory; ordinary: they share it the way
 * programs not written for rrkit do (variables of every hart on one page, busy-waits without
 * cpu_relax()); world: inputs and interrupts; race: a data race.
 */
export type WorkloadClass = 'compute' | 'sharing' | 'ordinary' | 'world' | 'race';

export interface Workload {
  readonly name: string;
  readonly description: string;
  readonly class: WorkloadClass;
  /** The `NAME: ok ...` line is the same on every run and for every hart count (for the same console input). */
  readonly deterministic: boolean;
  /** Reads the console until a byte 0x04 or a line `end`; give it input. */
  readonly needsConsoleInput: boolean;
  /** Reads a device only rrkit's board has (the entropy register); under QEMU the runtime substitutes. */
  readonly usesRrkitDevice: boolean;
  /** Reads a disk image (`--disk FILE`, made by `rrkit guest disk`): only the x86_64 board has the block device. */
  readonly needsDisk: boolean;
}

function workload(
  name: string,
  cls: WorkloadClass,
  description: string,
  flags: { deterministic?: boolean; needsConsoleInput?: boolean; usesRrkitDevice?: boolean; needsDisk?: boolean } = {},
): Workload {
  return {
    name,
    description,
    class: cls,
    deterministic: flags.deterministic ?? true,
    needsConsoleInput: flags.needsConsoleInput ?? false,
    usesRrkitDevice: flags.usesRrkitDevice ?? false,
    needsDisk: flags.needsDisk ?? false,
  };
}

export const WORKLOADS: readonly Workload[] = [
  workload('matmul', 'compute', 'integer matrix multiply, rows split across harts, Freivalds check'),
  workload('fft', 'compute', 'fixed-point radix-2 FFTs of noisy tones, peak bin and round-trip checks'),
  workload('radix-sort', 'compute', 'parallel LSD radix sort of 32-bit keys, order and permutation checks'),
  workload('sha256', 'compute', 'SHA-256 of generated messages, checked against known digests'),
  workload('lock-counter', 'sharing', 'one spin lock taken over and over to update a shared count and sum'),
  workload('atomic-histogram', 'sharing', 'atomic_add into shared histogram buckets, checked by a recount'),
  workload('false-sharing', 'sharing', 'per-hart counters packed eight to a cache line, all on one page'),
  workload('producer-consumer', 'sharing', 'single-producer single-consumer ring buffers between hart pairs'),
  workload('barrier-stencil', 'sharing', 'Jacobi grid relaxation with barrier_wait between sweeps'),
  workload('locked-ring', 'ordinary', 'a spin-locked ring: lock, indices and slots on one page, bare busy-waits'),
  workload('flag-handshake', 'ordinary', 'hart pairs pass a ball through turn flags, all pairs on one page, bare busy-waits'),
  workload('work-queue', 'ordinary', 'harts take tasks from a locked queue into one shared result table; hart 0 busy-waits'),
  workload('timer-ticks', 'world', '1 kHz timer interrupts on every hart while computing; tick count varies', {
    deterministic: false,
  }),
  workload('entropy-mix', 'world', 'mixes host entropy (random_u64) into a digest that varies', {
    deterministic: false,
    usesRrkitDevice: true,
  }),
  workload('clock-poll', 'world', 'busy-polls clock_ns() with no timer or wfi, printing a line every 5 ms (2 s in all)'),
  workload('console-echo', 'world', 'echoes console input upper-cased until 0x04 or a line `end`, with a checksum', {
    needsConsoleInput: true,
  }),
  workload('disk-checksum', 'world', 'reads a disk image it did not write by DMA and checks the checksum it carries', {
    usesRrkitDevice: true,
    needsDisk: true,
  }),
  workload('racy-counter', 'race', 'unsynchronised increments from all harts; the final count varies', {
    deterministic: false,
  }),
];

/** A GUEST argument that names neither a built-in workload nor a file (or a workload not built). */
export class UnknownGuest extends Error {
  override name = 'UnknownGuest';
}

/** The repository's root: the nearest directory above this module that holds guests/Makefile. */
function findRepoRoot(): string {
  const start = dirname(fileURLToPath(import.meta.url));
  for (let dir = start; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'guests', 'Makefile'))) return dir;
    if (dirname(dir) === dir) throw new Error(`cannot find the rrkit checkout (guests/Makefile) above ${start}`);
  }
}

export const REPO_ROOT = findRepoRoot();
export const GUESTS_DIR = join(REPO_ROOT, 'guests');

/** Where `make -C guests` puts a built-in workload's ELF. */
export function builtGuestPath(name: string, arch: GuestArch, small = false): string {
  return join(GUESTS_DIR, 'build', arch, `${name}${small ? '.small' : ''}.elf`);
}

/** The workload a GUEST argument names (`matmul` or `matmul.small`), if any. */
export function findWorkload(nameOrPath: string): { workload: Workload; small: boolean } | undefined {
  const small = nameOrPath.endsWith('.small');
  const name = small ? nameOrPath.slice(0, -'.small'.length) : nameOrPath;
  const found = WORKLOADS.find((w) => w.name === name);
  return found && { workload: found, small };
}

/**
 * Maps a GUEST argument to an ELF path: a built-in workload's name (`matmul`, or
 * `matmul.small` for the quick-test size) to its built ELF, anything else to a file path.
 */
export function resolveGuest(nameOrPath: string, arch: GuestArch): string {
  const builtIn = findWorkload(nameOrPath);
  if (builtIn) {
    const path = builtGuestPath(builtIn.workload.name, arch, builtIn.small);
    if (!existsSync(path)) {
      throw new UnknownGuest(`guest '${nameOrPath}' for ${arch} is not built (no ${path}): run \`make -C guests\``);
    }
    return path;
  }
  const path = resolve(nameOrPath);
  if (existsSync(path)) return path;
  if (nameOrPath.includes('/') || nameOrPath.endsWith('.elf')) throw new UnknownGuest(`no such guest ELF: ${printable(path)}`);
  const names = WORKLOADS.map((w) => w.name).join(', ');
  throw new UnknownGuest(
    `unknown guest '${printable(nameOrPath)}': not a file, and not a built-in workload (${names}; add .small for the quick size)`,
  );
}
