// CRC32C (Castagnoli): the checksum of every log chunk. Chosen over CRC32 because its
// polynomial detects more bit-error patterns and modern x86 has an instruction for it.
#pragma once

#include <cstdint>
#include <span>

namespace rrkit::replay {

// CRC32C of `bytes`, continuing from a previous result `crc` (0 to start), so that a
// checksum can cover several pieces: Crc32c(b, Crc32c(a)) == Crc32c(a ++ b).
uint32_t Crc32c(std::span<const uint8_t> bytes, uint32_t crc = 0);

}  // namespace rrkit::replay
