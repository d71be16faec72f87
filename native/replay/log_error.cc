#include "replay/log_error.h"

namespace rrkit::replay {
namespace {

std::string Where(int64_t chunk, uint64_t offset) {
  std::string where = chunk == LogError::kHeaderChunk    ? "in the header"
                      : chunk == LogError::kTrailerChunk ? "in the trailer"
                                                         : "in chunk " + std::to_string(chunk);
  return where + " at byte " + std::to_string(offset);
}

}  // namespace

const char* LogErrorCodeName(LogErrorCode code) {
  switch (code) {
    case LogErrorCode::kIo: return "io";
    case LogErrorCode::kEmpty: return "empty";
    case LogErrorCode::kBadMagic: return "bad-magic";
    case LogErrorCode::kBadVersion: return "bad-version";
    case LogErrorCode::kBadHeader: return "bad-header";
    case LogErrorCode::kTruncated: return "truncated";
    case LogErrorCode::kBadFrame: return "bad-frame";
    case LogErrorCode::kBadCrc: return "bad-crc";
    case LogErrorCode::kBadPayload: return "bad-payload";
    case LogErrorCode::kBadSequence: return "bad-sequence";
    case LogErrorCode::kBadRecord: return "bad-record";
    case LogErrorCode::kBadTrailer: return "bad-trailer";
    case LogErrorCode::kTrailingData: return "trailing-data";
  }
  return "unknown";
}

LogError::LogError(LogErrorCode code, int64_t chunk, uint64_t offset, const std::string& detail)
    : std::runtime_error(std::string(LogErrorCodeName(code)) + " " + Where(chunk, offset) + ": " + detail),
      code_(code),
      chunk_(chunk),
      offset_(offset),
      detail_(detail) {}

}  // namespace rrkit::replay
