#include "replay/log_reader.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <span>
#include <stdexcept>

#include "replay/crc32c.h"
#include "replay/varint.h"
#include "text/hex.h"

namespace rrkit::replay {
namespace {

uint64_t LoadLe(const uint8_t* p, int bytes) {
  uint64_t value = 0;
  for (int i = 0; i < bytes; ++i) value |= static_cast<uint64_t>(p[i]) << (8 * i);
  return value;
}

using text::Hex;

LogError HeaderError(LogErrorCode code, uint64_t at, const std::string& detail) {
  return LogError(code, LogError::kHeaderChunk, at, detail);
}

}  // namespace

LogReader::LogReader(std::unique_ptr<ChunkSource> source) : source_(std::move(source)) {
  uint8_t fixed[kFileHeaderFixedBytes];
  const size_t got = ReadFully(fixed);
  if (got == 0) throw HeaderError(LogErrorCode::kEmpty, 0, "the log is empty");
  if (std::memcmp(fixed, kLogMagic.data(), std::min(got, kLogMagic.size())) != 0) {
    throw HeaderError(LogErrorCode::kBadMagic, 0, "not an rrkit log (no RRKITLOG magic)");
  }
  if (got < kFileHeaderFixedBytes) throw HeaderError(LogErrorCode::kTruncated, got, "the file ends inside the header");
  const uint64_t version = LoadLe(&fixed[8], 2);
  if (version != kLogFormatVersion) {
    const std::string old =
        version == 1 || version == 2 ? " (rrkit before the compressed v3 format wrote it: record it again)" : "";
    throw HeaderError(LogErrorCode::kBadVersion, 8,
                      "format version " + std::to_string(version) + ", this reader knows " +
                          std::to_string(kLogFormatVersion) + old);
  }
  if (LoadLe(&fixed[10], 2) != 0) throw HeaderError(LogErrorCode::kBadHeader, 10, "unknown header flags");
  const uint64_t body_length = LoadLe(&fixed[12], 4);
  if (body_length > kMaxHeaderBodyBytes) throw HeaderError(LogErrorCode::kBadHeader, 12, "header body larger than 1 MiB");
  frame_.assign(fixed, fixed + kFileHeaderFixedBytes);
  frame_.resize(kFileHeaderFixedBytes + body_length + 4);
  const size_t rest = ReadFully({frame_.data() + kFileHeaderFixedBytes, body_length + 4});
  if (rest < body_length + 4) throw HeaderError(LogErrorCode::kTruncated, offset_, "the file ends inside the header");
  const size_t crc_at = kFileHeaderFixedBytes + body_length;
  const uint32_t stored = static_cast<uint32_t>(LoadLe(&frame_[crc_at], 4));
  const uint32_t computed = Crc32c({frame_.data(), crc_at});
  if (stored != computed) {
    throw HeaderError(LogErrorCode::kBadCrc, crc_at, "header CRC32C stored " + Hex(stored) + ", computed " + Hex(computed));
  }
  header_ = DecodeHeaderBody({frame_.data() + kFileHeaderFixedBytes, body_length}, kFileHeaderFixedBytes);
}

std::unique_ptr<LogReader> LogReader::Open(const std::string& path) {
  return std::make_unique<LogReader>(std::make_unique<FileChunkSource>(path));
}

size_t LogReader::ReadFully(std::span<uint8_t> out) {
  size_t done = 0;
  while (done < out.size()) {
    const size_t got = source_->Read(out.subspan(done));
    if (got == 0) break;
    done += got;
  }
  offset_ += done;
  return done;
}

std::optional<std::vector<Record>> LogReader::NextChunk() {
  if (ended_) return std::nullopt;
  uint8_t magic[4];
  const size_t got = ReadFully(magic);
  if (got == 0) {  // no trailer: incomplete, but every sealed chunk was good
    ended_ = true;
    return std::nullopt;
  }
  if (got < 4) throw LogError(LogErrorCode::kTruncated, chunks_read_, offset_, "the file ends inside a frame");
  const uint64_t kind = LoadLe(magic, 4);
  if (kind == kChunkMagic) return ReadChunk(magic);
  if (kind == kTrailerMagic) {
    ReadTrailer(magic);
    ended_ = true;
    return std::nullopt;
  }
  throw LogError(LogErrorCode::kBadFrame, chunks_read_, offset_ - 4, "expected a chunk or the trailer, found " + Hex(kind));
}

std::optional<Record> LogReader::Next() {
  while (next_in_chunk_ == chunk_records_.size()) {
    auto chunk = NextChunk();
    if (!chunk) return std::nullopt;
    chunk_records_ = std::move(*chunk);
    next_in_chunk_ = 0;
  }
  return std::move(chunk_records_[next_in_chunk_++]);
}

void LogReader::StartAt(uint32_t first_chunk, uint64_t records_before) {
  if (chunks_read_ != 0 || ended_) throw std::logic_error("LogReader::StartAt after the first chunk");
  chunks_read_ = first_chunk;
  records_read_ = records_before;
}

std::vector<Record> LogReader::ReadChunk(const uint8_t* magic) {
  const int64_t index = chunks_read_;
  const uint64_t start = offset_ - 4;
  frame_.assign(magic, magic + 4);
  frame_.resize(kChunkHeaderBytes);
  if (ReadFully({frame_.data() + 4, kChunkHeaderBytes - 4}) < kChunkHeaderBytes - 4) {
    throw LogError(LogErrorCode::kTruncated, index, offset_, "the file ends inside a chunk header");
  }
  const uint8_t* head = frame_.data();
  const uint64_t sequence = LoadLe(head + 4, 4);
  const uint64_t stored_length = LoadLe(head + 8, 4);
  const uint64_t record_count = LoadLe(head + 12, 4);
  const uint64_t payload_length = LoadLe(head + 16, 4);
  const uint64_t codec = LoadLe(head + 20, 4);
  const uint32_t stored_crc = static_cast<uint32_t>(LoadLe(head + 24, 4));
  if (stored_length > kMaxChunkPayloadBytes) {
    throw LogError(LogErrorCode::kBadFrame, index, start + 8, "stored length " + std::to_string(stored_length) + " exceeds 4 MiB");
  }
  if (payload_length > kMaxChunkPayloadBytes) {
    throw LogError(LogErrorCode::kBadFrame, index, start + 16, "payload length " + std::to_string(payload_length) + " exceeds 4 MiB");
  }
  frame_.resize(kChunkHeaderBytes + stored_length);
  if (ReadFully({frame_.data() + kChunkHeaderBytes, stored_length}) < stored_length) {
    throw LogError(LogErrorCode::kTruncated, index, offset_,
                   "the file ends inside the chunk's payload (" + std::to_string(stored_length) + " bytes from byte " +
                       std::to_string(start + kChunkHeaderBytes) + ")");
  }
  const std::span<const uint8_t> stored{frame_.data() + kChunkHeaderBytes, stored_length};
  const uint32_t computed = Crc32c(stored, Crc32c({frame_.data(), kChunkHeaderBytes - 4}));
  if (stored_crc != computed) {
    throw LogError(LogErrorCode::kBadCrc, index, start + 24, "chunk CRC32C stored " + Hex(stored_crc) + ", computed " + Hex(computed));
  }
  if (sequence != static_cast<uint64_t>(index)) {
    throw LogError(LogErrorCode::kBadSequence, index, start + 4,
                   "chunk has sequence number " + std::to_string(sequence) + ", expected " + std::to_string(index));
  }
  if (codec > kMaxChunkCodec) throw LogError(LogErrorCode::kBadPayload, index, start + 20, "unknown codec " + std::to_string(codec));
  const auto payload = LoadPayload(static_cast<ChunkCodec>(codec), stored, payload_length);
  if (!payload) {
    throw LogError(LogErrorCode::kBadPayload, index, start + kChunkHeaderBytes,
                   "the stored bytes do not decode to the payload's " + std::to_string(payload_length) + " bytes");
  }
  ChunkDecoder decoder(*payload, start + kChunkHeaderBytes, index, header_.vcpus);
  std::vector<Record> records;
  while (auto record = decoder.Next()) records.push_back(std::move(*record));
  if (records.size() != record_count) {
    throw LogError(LogErrorCode::kBadRecord, index, start + 12,
                   "chunk declares " + std::to_string(record_count) + " records, its payload holds " +
                       std::to_string(records.size()));
  }
  records_read_ += record_count;
  ++chunks_read_;
  return records;
}

void LogReader::ReadTrailer(const uint8_t* magic) {
  const uint64_t start = offset_ - 4;
  const auto trailer_error = [](LogErrorCode code, uint64_t at, const std::string& detail) {
    return LogError(code, LogError::kTrailerChunk, at, detail);
  };
  uint8_t t[kTrailerBytes];
  std::memcpy(t, magic, 4);
  if (ReadFully({t + 4, kTrailerBytes - 4}) < kTrailerBytes - 4) {
    throw trailer_error(LogErrorCode::kTruncated, offset_, "the file ends inside the trailer");
  }
  const uint32_t stored = static_cast<uint32_t>(LoadLe(t + 24, 4));
  const uint32_t computed = Crc32c({t, 24});
  if (stored != computed) {
    throw trailer_error(LogErrorCode::kBadTrailer, start + 24, "trailer CRC32C stored " + Hex(stored) + ", computed " + Hex(computed));
  }
  LogTrailer trailer{static_cast<uint32_t>(LoadLe(t + 4, 4)), LoadLe(t + 8, 8), LoadLe(t + 16, 8)};
  if (trailer.chunk_count != chunks_read_) {
    throw trailer_error(LogErrorCode::kBadTrailer, start + 4,
                        "trailer counts " + std::to_string(trailer.chunk_count) + " chunks, the log has " + std::to_string(chunks_read_));
  }
  if (trailer.record_count != records_read_) {
    throw trailer_error(LogErrorCode::kBadTrailer, start + 8,
                        "trailer counts " + std::to_string(trailer.record_count) + " records, the log has " + std::to_string(records_read_));
  }
  uint8_t extra;
  if (source_->ReadAvailable({&extra, 1}) > 0) {
    throw trailer_error(LogErrorCode::kTrailingData, start + kTrailerBytes, "bytes after the trailer");
  }
  trailer_ = trailer;
}

namespace {

LogContents Drain(LogReader& reader) {
  LogContents contents;
  contents.header = reader.header();
  while (auto chunk = reader.NextChunk()) {
    for (Record& record : *chunk) contents.records.push_back(std::move(record));
  }
  contents.complete = reader.complete();
  contents.trailer = reader.trailer();
  contents.chunks = reader.chunks_read();
  contents.bytes = reader.bytes_read();
  return contents;
}

}  // namespace

LogContents ReadLog(std::vector<uint8_t> bytes) {
  LogReader reader(std::make_unique<MemoryChunkSource>(std::move(bytes)));
  return Drain(reader);
}

LogContents ReadLogFile(const std::string& path) {
  auto reader = LogReader::Open(path);
  return Drain(*reader);
}

}  // namespace rrkit::replay
