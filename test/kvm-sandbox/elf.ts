/**
 * The little of ELF64 (little-endian) that the sandbox reads: section tables, for a kernel
 * module's .modinfo and a vmlinux's notes, and program headers, to tell a static busybox.
 */

export interface ElfSection {
  name: string;
  type: number;
  offset: number;
  size: number;
}

export const SHT_NOTE = 7;
const PT_INTERP = 3;

function checkElf64(elf: Buffer): void {
  if (elf.length < 64 || elf.readUInt32BE(0) !== 0x7f454c46 || elf[4] !== 2 || elf[5] !== 1) {
    throw new Error('not an ELF64 little-endian file');
  }
}

/** Every section of an ELF64 LE image; throws when the bytes are not one. */
export function elfSections(elf: Buffer): ElfSection[] {
  checkElf64(elf);
  const tableOffset = Number(elf.readBigUInt64LE(0x28));
  const entrySize = elf.readUInt16LE(0x3a);
  const count = elf.readUInt16LE(0x3c);
  const namesIndex = elf.readUInt16LE(0x3e);
  if (tableOffset + count * entrySize > elf.length || namesIndex >= count) {
    throw new Error('ELF section table lies outside the file');
  }
  const raw = Array.from({ length: count }, (_, i) => {
    const at = tableOffset + i * entrySize;
    return {
      nameOffset: elf.readUInt32LE(at),
      type: elf.readUInt32LE(at + 4),
      offset: Number(elf.readBigUInt64LE(at + 0x18)),
      size: Number(elf.readBigUInt64LE(at + 0x20)),
    };
  });
  const names = raw[namesIndex]!;
  return raw.map((s) => {
    const start = names.offset + s.nameOffset;
    const end = elf.indexOf(0, start);
    return { name: elf.toString('latin1', start, end < 0 ? start : end), type: s.type, offset: s.offset, size: s.size };
  });
}

/** Whether an executable runs without a dynamic loader (no PT_INTERP program header). */
export function isStaticExecutable(elf: Buffer): boolean {
  checkElf64(elf);
  const tableOffset = Number(elf.readBigUInt64LE(0x20));
  const entrySize = elf.readUInt16LE(0x36);
  const count = elf.readUInt16LE(0x38);
  if (tableOffset + count * entrySize > elf.length) throw new Error('ELF program headers lie outside the file');
  for (let i = 0; i < count; i++) {
    if (elf.readUInt32LE(tableOffset + i * entrySize) === PT_INTERP) return false;
  }
  return true;
}
