// Where sealed log frames go. The writer hands each complete frame (header, chunk, trailer)
// to a sink exactly once and in order, from its I/O thread; a sink never sees half a frame.
// A file is one sink; a replication link (ship chunks to backups as they are sealed) is
// another.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

namespace rrkit::replay {

class ChunkSink {
 public:
  enum class Frame { kHeader, kChunk, kTrailer };

  virtual ~ChunkSink() = default;
  // Throws (e.g. std::system_error) on failure; the writer reports it to its caller.
  virtual void Write(Frame frame, std::span<const uint8_t> bytes) = 0;
  // Called after a batch of frames and at close: make what was written durable enough.
  virtual void Flush() = 0;
};

// Writes the log to a file (created or truncated), or to an inherited descriptor named
// /dev/fd/N (a pipe or socket: a replica's engine, src/replication/).
class FileChunkSink final : public ChunkSink {
 public:
  explicit FileChunkSink(const std::string& path);
  void Write(Frame frame, std::span<const uint8_t> bytes) override;
  void Flush() override;

 private:
  struct Closer {
    void operator()(std::FILE* file) const { std::fclose(file); }
  };
  std::string path_;
  std::unique_ptr<std::FILE, Closer> file_;
};

// Keeps the log in memory (tests, and building logs for the addon). Safe to read while the
// writer is running.
class MemoryChunkSink final : public ChunkSink {
 public:
  void Write(Frame frame, std::span<const uint8_t> bytes) override;
  void Flush() override {}
  std::vector<uint8_t> bytes() const;
  size_t frames() const;

 private:
  mutable std::mutex mutex_;
  std::vector<uint8_t> bytes_;
  size_t frames_ = 0;
};

}  // namespace rrkit::replay
