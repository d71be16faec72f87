#include "replay/log_writer.h"

#include <stdexcept>

namespace rrkit::replay {

LogWriter::LogWriter(const LogHeader& header, std::shared_ptr<ChunkSink> sink, Options options)
    : header_(header), sink_(std::move(sink)), options_(options), open_chunk_(header.vcpus) {
  pending_.push_back({ChunkSink::Frame::kHeader, EncodeFileHeader(header_), 0, 0});
  io_thread_ = std::thread([this] { IoLoop(); });
}

LogWriter::~LogWriter() {
  {
    std::lock_guard lock(mutex_);
    if (!closing_) {
      SealLocked();
      closing_ = true;  // no trailer: the log stays incomplete
    }
  }
  room_.notify_all();
  wake_io_.notify_one();
  if (io_thread_.joinable()) io_thread_.join();
}

void LogWriter::Append(const Record& record) {
  std::unique_lock lock(mutex_);
  if (closing_) throw std::logic_error("log writer: append after close");
  RethrowIfFailedLocked();
  const bool first_in_chunk = open_chunk_.empty();
  if (first_in_chunk) open_chunk_started_ = Clock::now();
  open_chunk_.Append(record);
  ++records_;
  if (open_chunk_.bytes() >= options_.max_chunk_bytes) {
    SealLocked();
  } else if (first_in_chunk) {
    wake_io_.notify_one();  // the IO thread may sleep with no deadline: start the age clock
  }
  // Whoever sealed the queued chunks (this append, an output's SealAndCount, the age), the
  // guest waits once too many are queued: a log sealed often in small chunks is held too.
  if (queued_bytes_ > options_.max_queued_bytes) {
    room_.wait(lock, [this] { return queued_bytes_ <= options_.max_queued_bytes || io_error_ || closing_; });
    RethrowIfFailedLocked();
  }
}

void LogWriter::Seal() {
  std::lock_guard lock(mutex_);
  SealLocked();
}

uint64_t LogWriter::SealAndCount() {
  std::lock_guard lock(mutex_);
  SealLocked();
  return records_;
}

void LogWriter::Close() {
  {
    std::lock_guard lock(mutex_);
    if (closing_) return;
    SealLocked();
    const auto elapsed = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - opened_);
    pending_.push_back({ChunkSink::Frame::kTrailer,
                        EncodeTrailer({next_sequence_, records_, static_cast<uint64_t>(elapsed.count())}), 0, 0});
    closing_ = true;
  }
  wake_io_.notify_one();
  io_thread_.join();
  std::lock_guard lock(mutex_);
  RethrowIfFailedLocked();
}

void LogWriter::SealLocked() {
  if (open_chunk_.empty()) return;
  const uint32_t count = open_chunk_.records();
  pending_.push_back({ChunkSink::Frame::kChunk, open_chunk_.Take(), next_sequence_++, count});
  queued_bytes_ += pending_.back().bytes.size();
  wake_io_.notify_one();
}

void LogWriter::RethrowIfFailedLocked() const {
  if (io_error_) std::rethrow_exception(io_error_);
}

// The only thread that touches the sink. Wakes for sealed frames, for the open chunk's
// age limit, and for close.
void LogWriter::IoLoop() {
  std::unique_lock lock(mutex_);
  for (;;) {
    const bool aged = !open_chunk_.empty() && Clock::now() - open_chunk_started_ >= options_.max_chunk_age;
    if (aged) SealLocked();
    if (pending_.empty()) {
      if (closing_) return;
      if (open_chunk_.empty()) {
        wake_io_.wait(lock);
      } else {
        wake_io_.wait_until(lock, open_chunk_started_ + options_.max_chunk_age);
      }
      continue;
    }
    std::deque<PendingFrame> batch;
    batch.swap(pending_);
    size_t batch_bytes = 0;
    for (const PendingFrame& frame : batch) batch_bytes += frame.kind == ChunkSink::Frame::kChunk ? frame.bytes.size() : 0;
    lock.unlock();
    std::exception_ptr error;
    try {
      for (const PendingFrame& frame : batch) {
        if (frame.kind != ChunkSink::Frame::kChunk) {
          sink_->Write(frame.kind, frame.bytes);
          continue;
        }
        const StoredPayload stored = StorePayload(frame.bytes, options_.deflate_level);
        sink_->Write(frame.kind, EncodeChunkFrame(frame.sequence, frame.records, static_cast<uint32_t>(frame.bytes.size()),
                                                  stored.codec, stored.bytes));
      }
      sink_->Flush();
    } catch (...) {
      error = std::current_exception();
    }
    lock.lock();
    queued_bytes_ -= batch_bytes;
    room_.notify_all();
    if (error) {
      io_error_ = error;
      return;  // later appends and Close() report it
    }
  }
}

}  // namespace rrkit::replay
