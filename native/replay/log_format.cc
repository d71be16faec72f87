#include "replay/log_format.h"

#include <stdexcept>

#include "replay/crc32c.h"
#include "replay/varint.h"

namespace rrkit::replay {
namespace {

void AppendCrc(std::vector<uint8_t>& frame, size_t crc_covers) {
  ByteWriter(frame).FixedLe(Crc32c({frame.data(), crc_covers}), 4);
}

}  // namespace

// Header: encode and decode side by side.

std::vector<uint8_t> EncodeFileHeader(const LogHeader& header) {
  if (header.vcpus == 0 || header.vcpus > kMaxVcpus) throw std::invalid_argument("log header: vcpus out of range");
  if (header.image_hash.size() > kMaxImageHashBytes) throw std::invalid_argument("log header: image hash too long");
  std::vector<uint8_t> body;
  ByteWriter b(body);
  b.String(header.engine);
  b.Blob(header.image_hash);
  b.String(header.image_path);
  b.Varint(header.vcpus);
  b.Varint(header.ram_mib);
  b.Varint(header.crew_granularity);
  b.Varint(header.checkpoint_interval);
  b.Varint(header.start_unix_ms);
  b.String(header.config_json);
  if (body.size() > kMaxHeaderBodyBytes) throw std::invalid_argument("log header: larger than 1 MiB");

  std::vector<uint8_t> frame(kLogMagic.begin(), kLogMagic.end());
  ByteWriter f(frame);
  f.FixedLe(kLogFormatVersion, 2);
  f.FixedLe(0, 2);  // flags: none defined
  f.FixedLe(body.size(), 4);
  f.Bytes(body);
  AppendCrc(frame, frame.size());
  return frame;
}

LogHeader DecodeHeaderBody(std::span<const uint8_t> body, uint64_t file_offset) {
  ByteReader r(body, file_offset, LogError::kHeaderChunk, LogErrorCode::kBadHeader);
  LogHeader header;
  header.engine = r.String(256, "engine name");
  auto hash = r.Blob(kMaxImageHashBytes, "image hash");
  header.image_hash.assign(hash.begin(), hash.end());
  header.image_path = r.String(kMaxHeaderBodyBytes, "image path");
  const size_t vcpus_at = r.position();
  const uint64_t vcpus = r.Varint();
  if (vcpus == 0 || vcpus > kMaxVcpus) r.Fail(LogErrorCode::kBadHeader, vcpus_at, "vcpus out of range (1..4096)");
  header.vcpus = static_cast<uint32_t>(vcpus);
  const size_t ram_at = r.position();
  const uint64_t ram = r.Varint();
  if (ram > UINT32_MAX) r.Fail(LogErrorCode::kBadHeader, ram_at, "RAM size out of range");
  header.ram_mib = static_cast<uint32_t>(ram);
  const size_t granularity_at = r.position();
  const uint64_t granularity = r.Varint();
  if (granularity > UINT32_MAX) r.Fail(LogErrorCode::kBadHeader, granularity_at, "CREW granularity out of range");
  header.crew_granularity = static_cast<uint32_t>(granularity);
  header.checkpoint_interval = r.Varint();
  header.start_unix_ms = r.Varint();
  header.config_json = r.String(kMaxHeaderBodyBytes, "config JSON");
  if (!r.done()) r.Fail(LogErrorCode::kBadHeader, r.position(), "unexpected bytes after the header fields");
  return header;
}

// Chunk frame: the CRC covers the 24 bytes before it and the stored bytes, so that a flipped
// sequence number, count, length or codec is caught as surely as a flipped payload byte.

std::vector<uint8_t> EncodeChunkFrame(uint32_t sequence, uint32_t record_count, uint32_t payload_length,
                                      ChunkCodec codec, std::span<const uint8_t> stored) {
  if (payload_length > kMaxChunkPayloadBytes || stored.size() > kMaxChunkPayloadBytes) {
    throw std::invalid_argument("log chunk: payload larger than 4 MiB");
  }
  std::vector<uint8_t> frame;
  frame.reserve(kChunkHeaderBytes + stored.size());
  ByteWriter f(frame);
  f.FixedLe(kChunkMagic, 4);
  f.FixedLe(sequence, 4);
  f.FixedLe(stored.size(), 4);
  f.FixedLe(record_count, 4);
  f.FixedLe(payload_length, 4);
  f.FixedLe(static_cast<uint32_t>(codec), 4);
  const uint32_t crc = Crc32c(stored, Crc32c({frame.data(), kChunkHeaderBytes - 4}));
  f.FixedLe(crc, 4);
  f.Bytes(stored);
  return frame;
}

std::vector<uint8_t> EncodeTrailer(const LogTrailer& trailer) {
  std::vector<uint8_t> frame;
  ByteWriter f(frame);
  f.FixedLe(kTrailerMagic, 4);
  f.FixedLe(trailer.chunk_count, 4);
  f.FixedLe(trailer.record_count, 8);
  f.FixedLe(trailer.elapsed_ns, 8);
  AppendCrc(frame, frame.size());
  return frame;
}

}  // namespace rrkit::replay
