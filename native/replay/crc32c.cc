// CRC32C, reflected polynomial 0x82F63B78, initial value and final xor 0xFFFFFFFF (the
// iSCSI / ext4 / SSE4.2 convention): with SSE4.2's crc32 instruction where the CPU has it,
// else a table, a byte per step. Most logs are written at event rate, but a kvm recording
// that logs a disk's DMA data checksums megabytes a second.
#include "replay/crc32c.h"

#include <array>
#include <cstring>

namespace rrkit::replay {
namespace {

constexpr uint32_t kPolynomial = 0x82F63B78u;

constexpr std::array<uint32_t, 256> MakeTable() {
  std::array<uint32_t, 256> table{};
  for (uint32_t byte = 0; byte < 256; ++byte) {
    uint32_t crc = byte;
    for (int bit = 0; bit < 8; ++bit) crc = (crc & 1u) ? (crc >> 1) ^ kPolynomial : crc >> 1;
    table[byte] = crc;
  }
  return table;
}

constexpr std::array<uint32_t, 256> kTable = MakeTable();

uint32_t TableCrc(std::span<const uint8_t> bytes, uint32_t crc) {
  for (uint8_t byte : bytes) crc = kTable[(crc ^ byte) & 0xFFu] ^ (crc >> 8);
  return crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) uint32_t InstructionCrc(std::span<const uint8_t> bytes, uint32_t crc) {
  const uint8_t* p = bytes.data();
  size_t n = bytes.size();
  uint64_t wide = crc;
  for (; n >= 8; p += 8, n -= 8) {
    uint64_t word;
    std::memcpy(&word, p, sizeof word);
    wide = __builtin_ia32_crc32di(wide, word);
  }
  crc = static_cast<uint32_t>(wide);
  for (; n > 0; ++p, --n) crc = __builtin_ia32_crc32qi(crc, *p);
  return crc;
}

// Asked at load time, before libgcc's own constructor may have filled in the CPU model.
const bool kHasInstruction = [] {
  __builtin_cpu_init();
  return __builtin_cpu_supports("sse4.2") != 0;
}();
#endif

}  // namespace

uint32_t Crc32c(std::span<const uint8_t> bytes, uint32_t crc) {
#if defined(__x86_64__)
  if (kHasInstruction) return ~InstructionCrc(bytes, ~crc);
#endif
  return ~TableCrc(bytes, ~crc);
}

}  // namespace rrkit::replay
