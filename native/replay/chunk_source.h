// Where a log's bytes come from, in order: the mirror of ChunkSink. The reader asks for
// bytes as a replay reaches them and keeps only the frame it is reading.
//
// Sources: a file (FileChunkSource); a file another process is still writing
// (FollowingFileChunkSource: `rrkit replay --follow`); a pipe or socket
// (StreamChunkSource: a replica's log as it arrives); bytes in memory (tests, the fuzzer).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

namespace rrkit::replay {

class ChunkSource {
 public:
  virtual ~ChunkSource() = default;
  // Copies the next bytes into `out`: at least one, blocking until one is there, or 0 at
  // the end of the source. Throws LogError(kIo) when the bytes cannot be read.
  virtual size_t Read(std::span<uint8_t> out) = 0;
  // As Read(), but returns 0 at once when nothing is there yet (checks for bytes after the
  // trailer, where a follower must not wait).
  virtual size_t ReadAvailable(std::span<uint8_t> out) { return Read(out); }
  // From another thread: a blocked Read() returns 0 now, and every later one too.
  virtual void Cancel() {}
  // For messages: the file's path, or what else the bytes come from.
  virtual std::string name() const = 0;
};

// A log file as it is. Throws LogError(kIo) naming the path when it cannot be opened.
class FileChunkSource final : public ChunkSource {
 public:
  explicit FileChunkSource(const std::string& path);
  size_t Read(std::span<uint8_t> out) override;
  std::string name() const override { return path_; }

 private:
  struct Closer {
    void operator()(std::FILE* file) const { std::fclose(file); }
  };
  std::string path_;
  std::unique_ptr<std::FILE, Closer> file_;
  uint64_t offset_ = 0;
};

// A log file that a recording may still be writing: at the end of what is there, waits for
// the file to grow. The writer writes whole frames but the file system may show part of
// one: the reader simply waits for the rest. Ends when cancelled, or after `idle_timeout`
// (zero: never) without a new byte; waits for the file to appear the same way.
class FollowingFileChunkSource final : public ChunkSource {
 public:
  FollowingFileChunkSource(const std::string& path, std::chrono::milliseconds idle_timeout,
                           std::chrono::milliseconds poll_interval = std::chrono::milliseconds(5));
  ~FollowingFileChunkSource() override;
  FollowingFileChunkSource(const FollowingFileChunkSource&) = delete;
  FollowingFileChunkSource& operator=(const FollowingFileChunkSource&) = delete;
  size_t Read(std::span<uint8_t> out) override;
  size_t ReadAvailable(std::span<uint8_t> out) override;
  void Cancel() override;
  std::string name() const override { return path_; }

 private:
  size_t ReadNow(std::span<uint8_t> out);

  std::string path_;
  std::chrono::milliseconds idle_timeout_;
  std::chrono::milliseconds poll_interval_;
  int fd_ = -1;
  uint64_t offset_ = 0;
  std::mutex mutex_;
  std::condition_variable cancelled_cv_;
  bool cancelled_ = false;
};

// A pipe or socket (a replica's log as it arrives, src/replication/): Read() returns what
// read() gives, blocking until at least one byte arrives, and 0 once the writer closed its
// end (the end of an incomplete log unless the trailer came: a backup taking over closes
// it). ReadAvailable() polls without blocking; Cancel() wakes a blocked Read() through a
// pipe of its own. Takes ownership of `fd`.
class StreamChunkSource final : public ChunkSource {
 public:
  StreamChunkSource(int fd, std::string name);
  ~StreamChunkSource() override;
  StreamChunkSource(const StreamChunkSource&) = delete;
  StreamChunkSource& operator=(const StreamChunkSource&) = delete;
  size_t Read(std::span<uint8_t> out) override;
  size_t ReadAvailable(std::span<uint8_t> out) override;
  void Cancel() override;
  std::string name() const override { return name_; }

 private:
  // Waits up to `timeout_ms` (-1: forever) for bytes or a cancel; true when bytes can be read.
  bool WaitReadable(int timeout_ms);
  size_t ReadOnce(std::span<uint8_t> out);

  int fd_;
  std::string name_;
  int cancel_pipe_[2] = {-1, -1};
  uint64_t offset_ = 0;
};

// Bytes already in memory, handed out in pieces of at most `piece` bytes (1 exercises a
// reader against a source that trickles).
class MemoryChunkSource final : public ChunkSource {
 public:
  explicit MemoryChunkSource(std::vector<uint8_t> bytes, size_t piece = SIZE_MAX)
      : bytes_(std::move(bytes)), piece_(piece) {}
  size_t Read(std::span<uint8_t> out) override;
  std::string name() const override { return "memory"; }

 private:
  std::vector<uint8_t> bytes_;
  size_t piece_;
  size_t offset_ = 0;
};

}  // namespace rrkit::replay
