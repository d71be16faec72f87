// Writes an rrkit log. Appends come from every vCPU thread; they encode under one lock
// (records are events, not instructions, so the lock is on the rare path) and never touch
// the disk: sealed chunks go to a background thread that compresses them and hands them to
// a ChunkSink.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "replay/chunk_sink.h"
#include "replay/log_format.h"
#include "replay/log_records.h"

namespace rrkit::replay {

class LogWriter {
 public:
  struct Options {
    size_t max_chunk_bytes = 64 * 1024;                    // seal when the payload reaches this
    std::chrono::milliseconds max_chunk_age{1000};         // ... or when its first record is this old
    int deflate_level = kDefaultDeflateLevel;              // 0: store payloads uncompressed
    // Sealed chunks not yet written: beyond this, Append waits for the I/O thread (a guest
    // that logs faster than the chunks can be compressed and written slows down rather
    // than filling memory).
    size_t max_queued_bytes = size_t{32} << 20;
  };

  LogWriter(const LogHeader& header, std::shared_ptr<ChunkSink> sink, Options options);
  LogWriter(const LogHeader& header, std::shared_ptr<ChunkSink> sink) : LogWriter(header, std::move(sink), Options{}) {}
  // Without Close(), every appended record still reaches the sink, but no trailer: the log
  // reads as `incomplete`, exactly as after a crash between seals.
  ~LogWriter();
  LogWriter(const LogWriter&) = delete;
  LogWriter& operator=(const LogWriter&) = delete;

  // Thread safe. Throws std::invalid_argument for an invalid record, std::logic_error after
  // Close(), and rethrows the sink's error if writing has failed. Waits while more than
  // Options::max_queued_bytes of sealed chunks wait to be written, whoever sealed them.
  void Append(const Record& record);
  // Seal the open chunk now (no-op when it is empty).
  void Seal();
  // Seal, and return how many records the log holds: an output produced before this call
  // depends on none after them (a replica's output rule, src/replication/).
  uint64_t SealAndCount();
  // Seal, write the trailer, wait for the sink to take everything. Idempotent.
  void Close();

  const LogHeader& header() const { return header_; }

 private:
  using Clock = std::chrono::steady_clock;
  // A frame to write; a chunk's payload is compressed and framed on the I/O thread.
  struct PendingFrame {
    ChunkSink::Frame kind;
    std::vector<uint8_t> bytes;  // the whole frame, or a chunk's payload
    uint32_t sequence = 0;       // chunks only
    uint32_t records = 0;
  };

  void SealLocked();
  void RethrowIfFailedLocked() const;
  void IoLoop();

  const LogHeader header_;
  const std::shared_ptr<ChunkSink> sink_;
  const Options options_;
  const Clock::time_point opened_ = Clock::now();

  std::mutex mutex_;
  std::condition_variable wake_io_;
  std::condition_variable room_;  // queued_bytes_ went down, or writing failed
  size_t queued_bytes_ = 0;       // payloads sealed and not yet written
  ChunkEncoder open_chunk_;
  Clock::time_point open_chunk_started_{};
  uint32_t next_sequence_ = 0;
  uint64_t records_ = 0;
  std::deque<PendingFrame> pending_;
  bool closing_ = false;
  std::exception_ptr io_error_;
  std::thread io_thread_;  // last: started after everything it uses exists
};

}  // namespace rrkit::replay
