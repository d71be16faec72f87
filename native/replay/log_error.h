// The one error a log reader throws: what is wrong, in which chunk, at which byte.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

namespace rrkit::replay {

// What is wrong with a log. The names (see LogErrorCodeName) are shared with the
// TypeScript reader (src/analysis/log-error.ts) and documented in docs/log-format.md.
enum class LogErrorCode {
  kIo,            // the file could not be opened or read
  kEmpty,         // zero bytes
  kBadMagic,      // not an rrkit log
  kBadVersion,    // a format version this reader does not know
  kBadHeader,     // header fields or header CRC invalid
  kTruncated,     // the file ends inside the header, a chunk or the trailer
  kBadFrame,      // something other than a chunk or the trailer where one should start
  kBadCrc,        // a chunk's CRC32C does not match its bytes
  kBadPayload,    // a chunk's codec unknown, or its stored bytes do not decode to its payload
  kBadSequence,   // chunks out of order, missing or repeated
  kBadRecord,     // a record that does not decode (unknown kind, bad vCPU, overrun, ...)
  kBadTrailer,    // trailer CRC or totals do not match the chunks read
  kTrailingData,  // bytes after the trailer
};

const char* LogErrorCodeName(LogErrorCode code);

// Where: chunk == kHeaderChunk for the file header, kTrailerChunk for the trailer, else
// the chunk's index (0-based, in file order). `offset` is the byte offset in the file.
class LogError : public std::runtime_error {
 public:
  static constexpr int64_t kHeaderChunk = -1;
  static constexpr int64_t kTrailerChunk = -2;

  LogError(LogErrorCode code, int64_t chunk, uint64_t offset, const std::string& detail);

  LogErrorCode code() const { return code_; }
  int64_t chunk() const { return chunk_; }
  uint64_t offset() const { return offset_; }
  const std::string& detail() const { return detail_; }

 private:
  LogErrorCode code_;
  int64_t chunk_;
  uint64_t offset_;
  std::string detail_;
};

// A log that reads without error but that this run cannot follow: records an engine has
// no device for (DMA writes on emu), another vCPU count than the run's, CREW edges that
// cannot all be honoured. Reported like a damaged log (code "unreplayable-log").
class UnreplayableLog : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace rrkit::replay
