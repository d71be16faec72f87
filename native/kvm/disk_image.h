// A disk-image file (`--disk FILE`), opened read-only, and reads of it on a worker thread
// so that the guest runs while the host reads: the read completes whenever the host is
// done, which is why its result is a world event that recording logs.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "kvm/unique_fd.h"

namespace rrkit::kvm {

class DiskImage {
 public:
  // Throws std::runtime_error (one line naming the path) when it cannot be opened or its
  // size is not a whole number of 512-byte sectors.
  explicit DiskImage(const std::string& path);
  uint64_t sectors() const { return sectors_; }
  const std::string& path() const { return path_; }
  // Reads exactly `bytes.size()` bytes at `offset`; throws std::runtime_error on failure.
  void Read(uint64_t offset, std::span<uint8_t> bytes) const;

 private:
  std::string path_;
  UniqueFd fd_;
  uint64_t sectors_ = 0;
};

// One read at a time, on a thread of its own.
class DiskReader {
 public:
  using Clock = std::chrono::steady_clock;
  struct Done {
    std::vector<uint8_t> data;
    Clock::time_point finished;
    std::string error;  // non-empty when the host read failed
  };

  explicit DiskReader(const DiskImage& image);
  ~DiskReader();
  DiskReader(const DiskReader&) = delete;
  DiskReader& operator=(const DiskReader&) = delete;

  void Start(uint64_t offset, uint64_t length);
  // The finished read, if it has finished (once).
  std::optional<Done> Poll();
  // Waits until the read in flight finishes or `deadline` passes.
  void WaitUntil(Clock::time_point deadline);

 private:
  void Work();

  const DiskImage& image_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::optional<std::pair<uint64_t, uint64_t>> request_;  // offset, length
  std::optional<Done> done_;
  bool quit_ = false;
  std::thread thread_;
};

}  // namespace rrkit::kvm
