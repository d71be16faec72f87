#include "replay/chunk_codec.h"

#include <zlib.h>

#include <stdexcept>

namespace rrkit::replay {
namespace {

constexpr int kRawDeflateWindowBits = -15;  // negative: no zlib header or checksum

}  // namespace

StoredPayload StorePayload(std::span<const uint8_t> payload, int level) {
  if (level == 0 || payload.empty()) return {ChunkCodec::kStored, {payload.begin(), payload.end()}};
  z_stream z{};
  if (deflateInit2(&z, level, Z_DEFLATED, kRawDeflateWindowBits, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    throw std::runtime_error("log writer: deflateInit2 failed");
  }
  std::vector<uint8_t> out(deflateBound(&z, payload.size()));
  z.next_in = const_cast<Bytef*>(payload.data());
  z.avail_in = static_cast<uInt>(payload.size());
  z.next_out = out.data();
  z.avail_out = static_cast<uInt>(out.size());
  const int status = deflate(&z, Z_FINISH);
  const size_t produced = z.total_out;
  deflateEnd(&z);
  if (status != Z_STREAM_END) throw std::runtime_error("log writer: deflate failed");
  if (produced >= payload.size()) return {ChunkCodec::kStored, {payload.begin(), payload.end()}};
  out.resize(produced);
  return {ChunkCodec::kDeflate, std::move(out)};
}

std::optional<std::vector<uint8_t>> LoadPayload(ChunkCodec codec, std::span<const uint8_t> stored,
                                                size_t payload_length) {
  if (codec == ChunkCodec::kStored) {
    if (stored.size() != payload_length) return std::nullopt;
    return std::vector<uint8_t>(stored.begin(), stored.end());
  }
  if (codec != ChunkCodec::kDeflate) return std::nullopt;
  z_stream z{};
  if (inflateInit2(&z, kRawDeflateWindowBits) != Z_OK) throw std::runtime_error("log reader: inflateInit2 failed");
  // One byte of room beyond the declared length: a stream that wants to write more is
  // caught by the length check rather than stopped short of its end.
  std::vector<uint8_t> out(payload_length + 1);
  z.next_in = const_cast<Bytef*>(stored.data());
  z.avail_in = static_cast<uInt>(stored.size());
  z.next_out = out.data();
  z.avail_out = static_cast<uInt>(out.size());
  const int status = inflate(&z, Z_FINISH);
  const bool whole = status == Z_STREAM_END && z.avail_in == 0 && z.total_out == payload_length;
  inflateEnd(&z);
  if (!whole) return std::nullopt;
  out.resize(payload_length);
  return out;
}

}  // namespace rrkit::replay
