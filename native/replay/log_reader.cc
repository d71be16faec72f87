#include "replay/log_reader.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <memory>
#include <span>

#include "replay/crc32c.h"
#include "replay/varint.h"

namespace rrkit::replay {
namespace {

uint64_t LoadLe(const uint8_t* p, int bytes) {
  uint64_t value = 0;
  for (int i = 0; i < bytes; ++i) value |= static_cast<uint64_t>(p[i]) << (8 * i);
  return value;
}

std::string Hex(uint64_t value) {
  char text[24];
  std::snprintf(text, sizeof text, "0x%llx", static_cast<unsigned long long>(value));
  return text;
}

}  // namespace

LogReader::LogReader(std::vector<uint8_t> bytes) : bytes_(std::move(bytes)) {
  const size_t size = bytes_.size();
  const auto header_error = [](LogErrorCode code, uint64_t at, const std::string& detail) {
    return LogError(code, LogError::kHeaderChunk, at, detail);
  };
  if (size == 0) throw header_error(LogErrorCode::kEmpty, 0, "the log is empty");
  const size_t magic_bytes = std::min(size, kLogMagic.size());
  if (std::memcmp(bytes_.data(), kLogMagic.data(), magic_bytes) != 0) {
    throw header_error(LogErrorCode::kBadMagic, 0, "not an rrkit log (no RRKITLOG magic)");
  }
  if (size < kFileHeaderFixedBytes) throw header_error(LogErrorCode::kTruncated, size, "the file ends inside the header");
  const uint64_t version = LoadLe(&bytes_[8], 2);
  if (version != kLogFormatVersion) {
    throw header_error(LogErrorCode::kBadVersion, 8,
                       "format version " + std::to_string(version) + ", this reader knows " +
                           std::to_string(kLogFormatVersion));
  }
  if (LoadLe(&bytes_[10], 2) != 0) throw header_error(LogErrorCode::kBadHeader, 10, "unknown header flags");
  const uint64_t body_length = LoadLe(&bytes_[12], 4);
  if (body_length > kMaxHeaderBodyBytes) throw header_error(LogErrorCode::kBadHeader, 12, "header body larger than 1 MiB");
  const size_t crc_at = kFileHeaderFixedBytes + body_length;
  if (size < crc_at + 4) throw header_error(LogErrorCode::kTruncated, size, "the file ends inside the header");
  const uint32_t stored = static_cast<uint32_t>(LoadLe(&bytes_[crc_at], 4));
  const uint32_t computed = Crc32c({bytes_.data(), crc_at});
  if (stored != computed) {
    throw header_error(LogErrorCode::kBadCrc, crc_at, "header CRC32C stored " + Hex(stored) + ", computed " + Hex(computed));
  }
  header_ = DecodeHeaderBody({bytes_.data() + kFileHeaderFixedBytes, body_length}, kFileHeaderFixedBytes);
  offset_ = crc_at + 4;
}

LogReader LogReader::Open(const std::string& path) {
  struct Closer {
    void operator()(std::FILE* file) const { std::fclose(file); }
  };
  std::unique_ptr<std::FILE, Closer> file(std::fopen(path.c_str(), "rb"));
  if (!file) throw LogError(LogErrorCode::kIo, LogError::kHeaderChunk, 0, "cannot open " + path + ": " + std::strerror(errno));
  std::vector<uint8_t> bytes;
  uint8_t buffer[1 << 16];
  size_t got;
  while ((got = std::fread(buffer, 1, sizeof buffer, file.get())) > 0) bytes.insert(bytes.end(), buffer, buffer + got);
  if (std::ferror(file.get())) throw LogError(LogErrorCode::kIo, LogError::kHeaderChunk, bytes.size(), "cannot read " + path);
  return LogReader(std::move(bytes));
}

std::optional<Record> LogReader::Next() {
  while (next_in_chunk_ == chunk_records_.size()) {
    if (!ReadFrame()) return std::nullopt;
  }
  return std::move(chunk_records_[next_in_chunk_++]);
}

bool LogReader::ReadFrame() {
  if (ended_) return false;
  const size_t remaining = bytes_.size() - offset_;
  if (remaining == 0) {  // no trailer: incomplete, but every sealed chunk was good
    ended_ = true;
    return false;
  }
  if (remaining < 4) throw LogError(LogErrorCode::kTruncated, chunks_read_, bytes_.size(), "the file ends inside a frame");
  const uint64_t magic = LoadLe(&bytes_[offset_], 4);
  if (magic == kChunkMagic) {
    ReadChunk();
    return true;
  }
  if (magic == kTrailerMagic) {
    ReadTrailer();
    ended_ = true;
    return false;
  }
  throw LogError(LogErrorCode::kBadFrame, chunks_read_, offset_, "expected a chunk or the trailer, found " + Hex(magic));
}

void LogReader::ReadChunk() {
  const int64_t index = chunks_read_;
  const size_t start = offset_;
  const size_t remaining = bytes_.size() - start;
  if (remaining < kChunkHeaderBytes) throw LogError(LogErrorCode::kTruncated, index, bytes_.size(), "the file ends inside a chunk header");
  const uint8_t* head = &bytes_[start];
  const uint64_t sequence = LoadLe(head + 4, 4);
  const uint64_t payload_length = LoadLe(head + 8, 4);
  const uint64_t record_count = LoadLe(head + 12, 4);
  const uint32_t stored = static_cast<uint32_t>(LoadLe(head + 16, 4));
  if (payload_length > kMaxChunkPayloadBytes) {
    throw LogError(LogErrorCode::kBadFrame, index, start + 8, "payload length " + std::to_string(payload_length) + " exceeds 16 MiB");
  }
  if (remaining < kChunkHeaderBytes + payload_length) {
    throw LogError(LogErrorCode::kTruncated, index, bytes_.size(),
                   "the file ends inside the chunk's payload (" + std::to_string(payload_length) + " bytes from byte " +
                       std::to_string(start + kChunkHeaderBytes) + ")");
  }
  const std::span<const uint8_t> payload{head + kChunkHeaderBytes, payload_length};
  const uint32_t computed = Crc32c(payload, Crc32c({head, 16}));
  if (stored != computed) {
    throw LogError(LogErrorCode::kBadCrc, index, start + 16, "chunk CRC32C stored " + Hex(stored) + ", computed " + Hex(computed));
  }
  if (sequence != static_cast<uint64_t>(index)) {
    throw LogError(LogErrorCode::kBadSequence, index, start + 4,
                   "chunk has sequence number " + std::to_string(sequence) + ", expected " + std::to_string(index));
  }
  ChunkDecoder decoder(payload, start + kChunkHeaderBytes, index, header_.vcpus);
  std::vector<Record> records;
  while (auto record = decoder.Next()) records.push_back(std::move(*record));
  if (records.size() != record_count) {
    throw LogError(LogErrorCode::kBadRecord, index, start + 12,
                   "chunk declares " + std::to_string(record_count) + " records, its payload holds " +
                       std::to_string(records.size()));
  }
  chunk_records_ = std::move(records);
  next_in_chunk_ = 0;
  records_read_ += record_count;
  ++chunks_read_;
  offset_ = start + kChunkHeaderBytes + payload_length;
}

void LogReader::ReadTrailer() {
  const size_t start = offset_;
  const auto trailer_error = [](LogErrorCode code, uint64_t at, const std::string& detail) {
    return LogError(code, LogError::kTrailerChunk, at, detail);
  };
  if (bytes_.size() - start < kTrailerBytes) throw trailer_error(LogErrorCode::kTruncated, bytes_.size(), "the file ends inside the trailer");
  const uint8_t* t = &bytes_[start];
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
  if (bytes_.size() > start + kTrailerBytes) {
    throw trailer_error(LogErrorCode::kTrailingData, start + kTrailerBytes, "bytes after the trailer");
  }
  trailer_ = trailer;
}

namespace {

LogContents Drain(LogReader& reader) {
  LogContents contents;
  contents.header = reader.header();
  while (auto record = reader.Next()) contents.records.push_back(std::move(*record));
  contents.complete = reader.complete();
  contents.trailer = reader.trailer();
  contents.chunks = reader.chunks_read();
  contents.bytes = reader.size();
  return contents;
}

}  // namespace

LogContents ReadLog(std::vector<uint8_t> bytes) {
  LogReader reader(std::move(bytes));
  return Drain(reader);
}

LogContents ReadLogFile(const std::string& path) {
  LogReader reader = LogReader::Open(path);
  return Drain(reader);
}

}  // namespace rrkit::replay
