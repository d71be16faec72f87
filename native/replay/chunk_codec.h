// How a chunk's payload is stored in the file: as is, or compressed with raw deflate
// (RFC 1951, zlib), which every language's standard library can read. The codec numbers
// are part of the log format (docs/log-format.md): append only, and a new one bumps the
// version.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace rrkit::replay {

enum class ChunkCodec : uint32_t {
  kStored = 0,   // the payload itself
  kDeflate = 1,  // raw deflate, no zlib or gzip wrapper
};
inline constexpr uint32_t kMaxChunkCodec = 1;

// zlib's levels: 1 fastest .. 9 smallest. The writer's default, chosen by measurement
// (docs/log-format.md, "Size").
inline constexpr int kDefaultDeflateLevel = 6;

struct StoredPayload {
  ChunkCodec codec;
  std::vector<uint8_t> bytes;
};

// Deflates `payload` at `level` (0: store it as is); keeps it stored when deflate would
// not make it smaller.
StoredPayload StorePayload(std::span<const uint8_t> payload, int level);

// The payload of stored bytes, or nullopt unless they decode, with nothing left over, to
// exactly `payload_length` bytes.
std::optional<std::vector<uint8_t>> LoadPayload(ChunkCodec codec, std::span<const uint8_t> stored,
                                                size_t payload_length);

}  // namespace rrkit::replay
