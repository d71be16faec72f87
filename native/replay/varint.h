// Byte-level encoding shared by every part of the log: unsigned LEB128 varints, zigzag for
// signed deltas, and fixed-width little-endian integers (for hashes, which are random and
// would only grow as varints).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "replay/log_error.h"

namespace rrkit::replay {

constexpr size_t kMaxVarintBytes = 10;  // ceil(64 / 7)

inline uint64_t ZigZag(int64_t value) {
  return (static_cast<uint64_t>(value) << 1) ^ static_cast<uint64_t>(value >> 63);
}
inline int64_t UnZigZag(uint64_t value) {
  return static_cast<int64_t>(value >> 1) ^ -static_cast<int64_t>(value & 1);
}

// Appends to a byte vector.
class ByteWriter {
 public:
  explicit ByteWriter(std::vector<uint8_t>& out) : out_(out) {}

  void U8(uint8_t value) { out_.push_back(value); }
  void Varint(uint64_t value) {
    while (value >= 0x80) {
      out_.push_back(static_cast<uint8_t>(value | 0x80));
      value >>= 7;
    }
    out_.push_back(static_cast<uint8_t>(value));
  }
  void SignedVarint(int64_t value) { Varint(ZigZag(value)); }
  void FixedLe(uint64_t value, int bytes) {
    for (int i = 0; i < bytes; ++i) out_.push_back(static_cast<uint8_t>(value >> (8 * i)));
  }
  void Bytes(std::span<const uint8_t> bytes) { out_.insert(out_.end(), bytes.begin(), bytes.end()); }
  // A length-prefixed byte string (varint length, then the bytes).
  void Blob(std::span<const uint8_t> bytes) {
    Varint(bytes.size());
    Bytes(bytes);
  }
  void String(const std::string& text) {
    Blob({reinterpret_cast<const uint8_t*>(text.data()), text.size()});
  }

 private:
  std::vector<uint8_t>& out_;
};

// Reads a CRC-checked piece of the log (header body or chunk payload) that sits at
// `file_offset` in the file; every failure is a LogError with `code` naming `chunk` and the
// exact file offset.
class ByteReader {
 public:
  ByteReader(std::span<const uint8_t> bytes, uint64_t file_offset, int64_t chunk, LogErrorCode code)
      : bytes_(bytes), base_(file_offset), chunk_(chunk), code_(code) {}

  size_t position() const { return pos_; }
  size_t remaining() const { return bytes_.size() - pos_; }
  bool done() const { return pos_ == bytes_.size(); }
  uint64_t file_offset() const { return base_ + pos_; }

  uint8_t U8() {
    Need(1, "a byte");
    return bytes_[pos_++];
  }
  uint64_t Varint() {
    const size_t start = pos_;
    uint64_t value = 0;
    for (size_t i = 0; i < kMaxVarintBytes; ++i) {
      if (pos_ >= bytes_.size()) Fail(code_, start, "varint runs past the end");
      const uint8_t byte = bytes_[pos_++];
      if (i == kMaxVarintBytes - 1 && byte > 1) Fail(code_, start, "varint exceeds 64 bits");
      value |= static_cast<uint64_t>(byte & 0x7F) << (7 * i);
      if ((byte & 0x80) == 0) return value;
    }
    Fail(code_, start, "varint longer than 10 bytes");
  }
  int64_t SignedVarint() { return UnZigZag(Varint()); }
  uint64_t FixedLe(int bytes) {
    Need(static_cast<size_t>(bytes), "a fixed-width integer");
    uint64_t value = 0;
    for (int i = 0; i < bytes; ++i) value |= static_cast<uint64_t>(bytes_[pos_++]) << (8 * i);
    return value;
  }
  std::span<const uint8_t> Bytes(size_t count, const char* what) {
    Need(count, what);
    auto out = bytes_.subspan(pos_, count);
    pos_ += count;
    return out;
  }
  std::span<const uint8_t> Blob(size_t max_length, const char* what) {
    const size_t start = pos_;
    const uint64_t length = Varint();
    if (length > max_length) Fail(code_, start, std::string(what) + " longer than allowed");
    return Bytes(static_cast<size_t>(length), what);
  }
  std::string String(size_t max_length, const char* what) {
    auto bytes = Blob(max_length, what);
    return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
  }

  [[noreturn]] void Fail(LogErrorCode code, size_t at, const std::string& detail) const {
    throw LogError(code, chunk_, base_ + at, detail);
  }

 private:
  void Need(size_t count, const char* what) const {
    if (count > remaining()) Fail(code_, pos_, std::string(what) + " runs past the end");
  }

  std::span<const uint8_t> bytes_;
  size_t pos_ = 0;
  uint64_t base_;
  int64_t chunk_;
  LogErrorCode code_;
};

}  // namespace rrkit::replay
