/**
 * CRC32C (Castagnoli): reflected polynomial 0x82F63B78, initial value and final xor
 * 0xFFFFFFFF — the checksum of every rrkit log frame (docs/log-format.md).
 */
const POLYNOMIAL = 0x82f63b78;

const TABLE: Uint32Array = (() => {
  const table = new Uint32Array(256);
  for (let byte = 0; byte < 256; byte++) {
    let crc = byte;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ POLYNOMIAL : crc >>> 1;
    table[byte] = crc >>> 0;
  }
  return table;
})();

/** CRC32C of `bytes`, continuing from `crc` (0 to start): crc32c(b, crc32c(a)) === crc32c(a ++ b). */
export function crc32c(bytes: Uint8Array, crc = 0): number {
  let c = ~crc >>> 0;
  for (let i = 0; i < bytes.length; i++) c = TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}
