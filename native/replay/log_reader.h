// Reads an rrkit log from a ChunkSource, frame by frame, validating everything: header,
// every chunk's CRC, sequence, codec and records, the trailer. Any problem is a LogError
// naming the chunk and the byte offset; a reader never crashes or loops on bad input.
// Records come only from chunks that passed every check, and the reader keeps no more than
// the chunk it is reading: a log of any size streams through it.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "replay/chunk_source.h"
#include "replay/log_format.h"
#include "replay/log_records.h"

namespace rrkit::replay {

class LogReader {
 public:
  // Reads and validates the header; throws LogError (kEmpty when the source has no bytes).
  explicit LogReader(std::unique_ptr<ChunkSource> source);
  // A file; kIo when it cannot be opened.
  static std::unique_ptr<LogReader> Open(const std::string& path);

  const LogHeader& header() const { return header_; }
  // Before the first chunk: the source holds the header, then the log's chunks from
  // `first_chunk` on (a backup that rejoined from a state image receives only those);
  // `records_before` is how many records the chunks before it hold, for the trailer's totals.
  void StartAt(uint32_t first_chunk, uint64_t records_before);
  // The records of the next chunk, or nullopt at the end of the log; throws LogError.
  std::optional<std::vector<Record>> NextChunk();
  // One record at a time (over NextChunk).
  std::optional<Record> Next();
  // Whether the end was reached, and whether it was the trailer (complete) or the end of
  // the source after a whole chunk (incomplete).
  bool ended() const { return ended_; }
  bool complete() const { return trailer_.has_value(); }
  const std::optional<LogTrailer>& trailer() const { return trailer_; }
  uint32_t chunks_read() const { return chunks_read_; }
  uint64_t records_read() const { return records_read_; }
  // Bytes read so far: the file size once ended.
  uint64_t bytes_read() const { return offset_; }
  // From another thread: a read waiting on the source returns (the log then ends where it
  // was, incomplete).
  void Cancel() { source_->Cancel(); }
  const ChunkSource& source() const { return *source_; }

 private:
  // As many of out.size() bytes as the source has; fewer only at its end.
  size_t ReadFully(std::span<uint8_t> out);
  std::vector<Record> ReadChunk(const uint8_t* magic);
  void ReadTrailer(const uint8_t* magic);

  std::unique_ptr<ChunkSource> source_;
  LogHeader header_;
  uint64_t offset_ = 0;  // bytes consumed: the start of the next frame
  uint32_t chunks_read_ = 0;
  uint64_t records_read_ = 0;
  std::vector<uint8_t> frame_;  // the frame being read (reused)
  std::vector<Record> chunk_records_;  // Next(): the current chunk's
  size_t next_in_chunk_ = 0;
  std::optional<LogTrailer> trailer_;
  bool ended_ = false;
};

// A whole log in memory (tests, the addon's logRead).
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
