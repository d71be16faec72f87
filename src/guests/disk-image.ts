/**
 * Disk images for the x86_64 board's block device (`--disk FILE`): pseudo-random data
 * sectors and a last sector that says what they hold, so that the `disk-checksum`
 * workload can check an image it did not write:
 *
 *   bytes 0..7 "RRKITDSK", 8..15 data sectors (u64 LE), 16..23 FNV-1a 64 of the data sectors (u64 LE)
 */
import { open } from 'node:fs/promises';

export const SECTOR_BYTES = 512;
export const DISK_MAGIC = Buffer.from('RRKITDSK', 'ascii');
const FNV_OFFSET = 0xcbf29ce484222325n;
const FNV_PRIME = 0x100000001b3n;
const MASK64 = (1n << 64n) - 1n;

/** FNV-1a 64 over `bytes`, continuing from `hash`. */
export function fnv1a64(bytes: Uint8Array, hash = FNV_OFFSET): bigint {
  // 32-bit halves: BigInt per byte would take seconds for a few MiB.
  let lo = Number(hash & 0xffffffffn);
  let hi = Number(hash >> 32n);
  for (const byte of bytes) {
    lo = (lo ^ byte) >>> 0;
    // (hi:lo) * 0x100000001b3 mod 2^64 = lo*0x1b3 + ((hi*0x1b3 + lo*0x100) << 32)
    const loProduct = lo * 0x1b3;
    const carry = Math.floor(loProduct / 0x1_0000_0000);
    const newLo = loProduct >>> 0;
    hi = (Math.imul(hi, 0x1b3) + Math.imul(lo, 0x100) + carry) >>> 0;
    lo = newLo;
  }
  return ((BigInt(hi) << 32n) | BigInt(lo)) & MASK64;
}

export interface DiskImageFacts {
  dataSectors: number;
  checksum: bigint;
  bytes: number;
}

/** Writes an image of `dataSectors` sectors of data from `seed`, plus the describing sector. */
export async function writeDiskImage(path: string, dataSectors: number, seed = 1): Promise<DiskImageFacts> {
  if (!Number.isSafeInteger(dataSectors) || dataSectors < 1 || dataSectors > 8 * 1024 * 1024) {
    throw new RangeError(`a disk image holds 1 to 8388608 data sectors (4 GiB), not ${dataSectors}`);
  }
  const file = await open(path, 'w');
  try {
    let state = BigInt.asUintN(64, BigInt(seed) * 0x9e3779b97f4a7c15n + 1n);
    let hash = FNV_OFFSET;
    const chunkSectors = 2048;
    for (let at = 0; at < dataSectors; at += chunkSectors) {
      const n = Math.min(chunkSectors, dataSectors - at);
      const chunk = Buffer.alloc(n * SECTOR_BYTES);
      for (let offset = 0; offset < chunk.length; offset += 8) {
        // xorshift64: cheap, and different seeds give different images
        state ^= (state << 13n) & MASK64;
        state ^= state >> 7n;
        state ^= (state << 17n) & MASK64;
        chunk.writeBigUInt64LE(state, offset);
      }
      hash = fnv1a64(chunk, hash);
      await file.write(chunk);
    }
    const trailer = Buffer.alloc(SECTOR_BYTES);
    DISK_MAGIC.copy(trailer, 0);
    trailer.writeBigUInt64LE(BigInt(dataSectors), 8);
    trailer.writeBigUInt64LE(hash, 16);
    await file.write(trailer);
    return { dataSectors, checksum: hash, bytes: (dataSectors + 1) * SECTOR_BYTES };
  } finally {
    await file.close();
  }
}
