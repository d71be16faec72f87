/** Test helper: minimal ELF64 LE files with chosen sections, and optionally a PT_INTERP header. */

export interface FixtureSection {
  name: string;
  type: number;
  data: Buffer;
}

const SHT_PROGBITS = 1;
const SHT_STRTAB = 3;
export const SHT_NOTE = 7;

export function elfFile(sections: FixtureSection[], opts: { interpreter?: boolean } = {}): Buffer {
  const all: FixtureSection[] = [{ name: '', type: 0, data: Buffer.alloc(0) }, ...sections];
  all.push({ name: '.shstrtab', type: SHT_STRTAB, data: Buffer.alloc(0) });
  const nameOffsets: number[] = [];
  let names = '\0';
  for (const s of all) {
    nameOffsets.push(s.name ? names.length : 0);
    if (s.name) names += `${s.name}\0`;
  }
  all[all.length - 1]!.data = Buffer.from(names);

  const header = Buffer.alloc(64);
  header.writeUInt32BE(0x7f454c46, 0);
  header[4] = 2; // ELFCLASS64
  header[5] = 1; // little-endian
  header[6] = 1;
  const programHeaders = Buffer.alloc(opts.interpreter ? 56 : 0);
  if (opts.interpreter) programHeaders.writeUInt32LE(3, 0); // PT_INTERP
  let offset = header.length + programHeaders.length;
  const table = Buffer.alloc(64 * all.length);
  all.forEach((s, i) => {
    table.writeUInt32LE(nameOffsets[i]!, i * 64);
    table.writeUInt32LE(i === 0 ? 0 : s.type || SHT_PROGBITS, i * 64 + 4);
    table.writeBigUInt64LE(BigInt(offset), i * 64 + 0x18);
    table.writeBigUInt64LE(BigInt(s.data.length), i * 64 + 0x20);
    offset += s.data.length;
  });
  header.writeBigUInt64LE(BigInt(opts.interpreter ? 64 : 0), 0x20); // e_phoff
  header.writeBigUInt64LE(BigInt(offset), 0x28); // e_shoff
  header.writeUInt16LE(56, 0x36);
  header.writeUInt16LE(opts.interpreter ? 1 : 0, 0x38);
  header.writeUInt16LE(64, 0x3a);
  header.writeUInt16LE(all.length, 0x3c);
  header.writeUInt16LE(all.length - 1, 0x3e);
  return Buffer.concat([header, programHeaders, ...all.map((s) => s.data), table]);
}

/** An ELF note: namesz, descsz, type, then the name and the descriptor, each padded to 4 bytes. */
export function elfNote(name: string, type: number, desc: Buffer): Buffer {
  const nameBytes = Buffer.from(`${name}\0`);
  const pad = (b: Buffer) => Buffer.concat([b, Buffer.alloc((4 - (b.length % 4)) % 4)]);
  const head = Buffer.alloc(12);
  head.writeUInt32LE(nameBytes.length, 0);
  head.writeUInt32LE(desc.length, 4);
  head.writeUInt32LE(type, 8);
  return Buffer.concat([head, pad(nameBytes), pad(desc)]);
}

/** A kernel module's .modinfo section. */
export function modinfo(fields: Record<string, string>): FixtureSection {
  const data = Buffer.from(Object.entries(fields).map(([k, v]) => `${k}=${v}\0`).join(''));
  return { name: '.modinfo', type: 1, data };
}
