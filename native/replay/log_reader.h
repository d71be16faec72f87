// Reads an rrkit log, validating everything: header, every chunk's CRC and sequence, every
// record, the trailer. Any problem is a LogError naming the chunk and the byte offset; a
// reader never crashes or loops on bad input. Records come only from chunks that passed
// their checks.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "replay/log_format.h"
#include "replay/log_records.h"

namespace rrkit::replay {

class LogReader {
 public:
  // Validates the header; throws LogError.
  explicit LogReader(std::vector<uint8_t> bytes);
  // kIo when the file cannot be read, kEmpty when it has no bytes.
  static LogReader Open(const std::string& path);

  const LogHeader& header() const { return header_; }
  // The next record, or nullopt at the end of the log; throws LogError.
  std::optional<Record> Next();
  // After Next() has returned nullopt: whether the log ended with a valid trailer.
  bool complete() const { return trailer_.has_value(); }
  const std::optional<LogTrailer>& trailer() const { return trailer_; }
  uint32_t chunks_read() const { return chunks_read_; }
  uint64_t size() const { return bytes_.size(); }

 private:
  // Reads the frame at offset_: loads a chunk's records, or the trailer. False at the end.
  bool ReadFrame();
  void ReadChunk();
  void ReadTrailer();

  std::vector<uint8_t> bytes_;
  LogHeader header_;
  size_t offset_ = 0;  // start of the next frame
  uint32_t chunks_read_ = 0;
  uint64_t records_read_ = 0;
  std::vector<Record> chunk_records_;  // the current chunk's, all validated
  size_t next_in_chunk_ = 0;
  std::optional<LogTrailer> trailer_;
  bool ended_ = false;
};

// A whole log in memory.
struct LogContents {
  LogHeader header;
  std::vector<Record> records;
  bool complete = false;
  std::optional<LogTrailer> trailer;
  uint32_t chunks = 0;
  uint64_t bytes = 0;
};

LogContents ReadLog(std::vector<uint8_t> bytes);
LogContents ReadLogFile(const std::string& path);

}  // namespace rrkit::replay
