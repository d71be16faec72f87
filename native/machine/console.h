// Where the guest's console goes (UART transmit) and where its input comes from (UART
// receive). Output reaches stdout byte for byte, flushed at each newline and at stop.
// Tagged (a replica's engine, src/replication/): each flush goes to stdout as a frame
// "u64 position, u32 length, bytes" (little-endian), the position being what the tag
// function returns at the flush — the log's record count, every record the bytes can
// depend on included.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "replay/world.h"

namespace rrkit::machine {

class ConsoleOutput {
 public:
  enum class Mode { kStdout, kCapture, kTagged };
  using Tag = std::function<uint64_t()>;
  explicit ConsoleOutput(Mode mode) : mode_(mode) {}
  // kTagged: the position each flush carries (none set: 0).
  void SetTag(Tag tag) {
    std::lock_guard lock(mutex_);
    tag_ = std::move(tag);
  }
  ~ConsoleOutput() { Flush(); }

  void Put(uint8_t byte);
  void Flush();
  // Everything written so far (kCapture only).
  std::string Captured();
  // Length and FNV-1a digest of everything written, in either mode: replay must match it.
  replay::OutputDigest Digest();

  // A state image (emu/state_image.h): the digest so far and the bytes written but not yet
  // flushed; restored before the machine runs, so that the digest goes on and those bytes
  // are written by the restored machine (captured, in kCapture mode).
  struct Snapshot {
    replay::OutputDigest digest;
    std::string pending;
  };
  Snapshot Save();
  void Restore(const Snapshot& snapshot);

 private:
  void FlushLocked();

  void WriteAll(const char* bytes, size_t length);

  Mode mode_;
  Tag tag_;
  std::mutex mutex_;
  std::string pending_;
  std::string captured_;
  replay::OutputDigest digest_{0, 0xcbf29ce484222325ull};
};

// A byte source for UART receive: a buffer given up front (file contents, test input),
// or a file descriptor polled without blocking (stdin). Thread safe.
class ConsoleInput {
 public:
  static ConsoleInput None() { return ConsoleInput({}, -1); }
  static ConsoleInput FromBytes(std::vector<uint8_t> bytes) { return ConsoleInput(std::move(bytes), -1); }
  static ConsoleInput FromFd(int fd) { return ConsoleInput({}, fd); }

  ConsoleInput(ConsoleInput&& other) noexcept;

  bool Available();
  // The next byte, or 0 when none is waiting (what a 16550 RBR reads as when empty).
  uint8_t Take();

 private:
  ConsoleInput(std::vector<uint8_t> bytes, int fd);
  void PollLocked();

  std::mutex mutex_;
  std::deque<uint8_t> queue_;
  int fd_;
  bool eof_ = false;
};

}  // namespace rrkit::machine
