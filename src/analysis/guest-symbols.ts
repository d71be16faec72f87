/**
 * The data objects of a guest ELF (its symbol table's STT_OBJECT entries), to say which
 * variables live on a CREW page: "0x80001000 [counts, barrier]" points at false sharing
 * where a bare address does not. Reads ELF64 little endian (rv64 and x86_64 guests).
 */

export interface GuestSymbol {
  name: string;
  address: bigint;
  size: bigint;
}

const ELF_MAGIC = Buffer.from([0x7f, 0x45, 0x4c, 0x46]);
const ELFCLASS64 = 2;
const ELFDATA2LSB = 1;
const SHT_SYMTAB = 2;
const STT_OBJECT = 1;
const SECTION_HEADER_BYTES = 64;
const SYMBOL_BYTES = 24;

/** The sized data objects of `image`, by address; [] when it has no symbol table. Throws on a non-ELF64-LE file. */
export function readGuestSymbols(image: Buffer): GuestSymbol[] {
  if (image.length < 64 || !image.subarray(0, 4).equals(ELF_MAGIC) || image[4] !== ELFCLASS64 || image[5] !== ELFDATA2LSB) {
    throw new Error('not a 64-bit little-endian ELF file');
  }
  const sectionsAt = Number(image.readBigUInt64LE(0x28));
  const sectionCount = image.readUInt16LE(0x3c);
  const section = (i: number) => {
    const at = sectionsAt + i * SECTION_HEADER_BYTES;
    if (at + SECTION_HEADER_BYTES > image.length) throw new Error('ELF section header outside the file');
    return {
      type: image.readUInt32LE(at + 4),
      offset: Number(image.readBigUInt64LE(at + 0x18)),
      size: Number(image.readBigUInt64LE(at + 0x20)),
      link: image.readUInt32LE(at + 0x28),
    };
  };
  const symbols: GuestSymbol[] = [];
  for (let i = 0; i < sectionCount; i++) {
    const symtab = section(i);
    if (symtab.type !== SHT_SYMTAB) continue;
    const strtab = section(symtab.link);
    const names = image.subarray(strtab.offset, strtab.offset + strtab.size);
    for (let at = symtab.offset; at + SYMBOL_BYTES <= symtab.offset + symtab.size && at + SYMBOL_BYTES <= image.length; at += SYMBOL_BYTES) {
      const size = image.readBigUInt64LE(at + 16);
      if ((image[at + 4]! & 0xf) !== STT_OBJECT || size === 0n) continue;
      const nameAt = image.readUInt32LE(at);
      const nameEnd = names.indexOf(0, nameAt);
      symbols.push({ name: names.toString('latin1', nameAt, nameEnd < 0 ? names.length : nameEnd), address: image.readBigUInt64LE(at + 8), size });
    }
  }
  return symbols.sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
}

/** Names of the objects overlapping [start, end), in address order. */
export function symbolsIn(symbols: readonly GuestSymbol[], start: bigint, end: bigint): string[] {
  return symbols.filter((s) => s.address < end && s.address + s.size > start).map((s) => s.name);
}
