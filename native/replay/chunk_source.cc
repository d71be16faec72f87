#include "replay/chunk_source.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "replay/log_error.h"

namespace rrkit::replay {
namespace {

LogError IoError(const std::string& what, const std::string& path, uint64_t offset) {
  return LogError(LogErrorCode::kIo, LogError::kHeaderChunk, offset, what + " " + path + ": " + std::strerror(errno));
}

}  // namespace

FileChunkSource::FileChunkSource(const std::string& path) : path_(path), file_(std::fopen(path.c_str(), "rb")) {
  if (!file_) throw IoError("cannot open", path, 0);
}

size_t FileChunkSource::Read(std::span<uint8_t> out) {
  const size_t got = std::fread(out.data(), 1, out.size(), file_.get());
  if (got == 0 && std::ferror(file_.get())) throw IoError("cannot read", path_, offset_);
  offset_ += got;
  return got;
}

FollowingFileChunkSource::FollowingFileChunkSource(const std::string& path, std::chrono::milliseconds idle_timeout,
                                                   std::chrono::milliseconds poll_interval)
    : path_(path), idle_timeout_(idle_timeout), poll_interval_(poll_interval) {}

FollowingFileChunkSource::~FollowingFileChunkSource() {
  if (fd_ >= 0) ::close(fd_);
}

size_t FollowingFileChunkSource::ReadNow(std::span<uint8_t> out) {
  if (fd_ < 0) {
    fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) {
      if (errno == ENOENT) return 0;  // not created yet
      throw IoError("cannot open", path_, 0);
    }
  }
  for (;;) {
    const ssize_t got = ::pread(fd_, out.data(), out.size(), static_cast<off_t>(offset_));
    if (got >= 0) {
      offset_ += static_cast<uint64_t>(got);
      return static_cast<size_t>(got);
    }
    if (errno != EINTR) throw IoError("cannot read", path_, offset_);
  }
}

size_t FollowingFileChunkSource::Read(std::span<uint8_t> out) {
  auto last_growth = std::chrono::steady_clock::now();
  std::unique_lock lock(mutex_);
  while (!cancelled_) {
    lock.unlock();
    const size_t got = ReadNow(out);
    lock.lock();
    if (got > 0) return got;
    if (idle_timeout_.count() > 0 && std::chrono::steady_clock::now() - last_growth >= idle_timeout_) return 0;
    cancelled_cv_.wait_for(lock, poll_interval_, [this] { return cancelled_; });
  }
  return 0;
}

size_t FollowingFileChunkSource::ReadAvailable(std::span<uint8_t> out) {
  {
    std::lock_guard lock(mutex_);
    if (cancelled_) return 0;
  }
  return ReadNow(out);
}

void FollowingFileChunkSource::Cancel() {
  {
    std::lock_guard lock(mutex_);
    cancelled_ = true;
  }
  cancelled_cv_.notify_all();
}

StreamChunkSource::StreamChunkSource(int fd, std::string name) : fd_(fd), name_(std::move(name)) {
  if (::pipe2(cancel_pipe_, O_CLOEXEC) != 0) {
    ::close(fd_);
    throw IoError("cannot make a cancel pipe for", name_, 0);
  }
}

StreamChunkSource::~StreamChunkSource() {
  ::close(fd_);
  ::close(cancel_pipe_[0]);
  ::close(cancel_pipe_[1]);
}

bool StreamChunkSource::WaitReadable(int timeout_ms) {
  pollfd fds[2] = {{fd_, POLLIN, 0}, {cancel_pipe_[0], POLLIN, 0}};
  for (;;) {
    const int ready = ::poll(fds, 2, timeout_ms);
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) throw IoError("cannot poll", name_, offset_);
    if (fds[1].revents != 0) return false;  // cancelled
    return ready > 0 && fds[0].revents != 0;  // bytes, or the writer's end closed (read gives 0)
  }
}

size_t StreamChunkSource::ReadOnce(std::span<uint8_t> out) {
  for (;;) {
    const ssize_t got = ::read(fd_, out.data(), out.size());
    if (got >= 0) {
      offset_ += static_cast<uint64_t>(got);
      return static_cast<size_t>(got);
    }
    if (errno != EINTR) throw IoError("cannot read", name_, offset_);
  }
}

size_t StreamChunkSource::Read(std::span<uint8_t> out) {
  if (!WaitReadable(-1)) return 0;
  return ReadOnce(out);
}

size_t StreamChunkSource::ReadAvailable(std::span<uint8_t> out) {
  if (!WaitReadable(0)) return 0;
  return ReadOnce(out);
}

void StreamChunkSource::Cancel() {
  const uint8_t byte = 1;
  while (::write(cancel_pipe_[1], &byte, 1) < 0 && errno == EINTR) {
  }
}

size_t MemoryChunkSource::Read(std::span<uint8_t> out) {
  const size_t count = std::min({out.size(), bytes_.size() - offset_, piece_});
  std::copy_n(bytes_.begin() + static_cast<std::ptrdiff_t>(offset_), count, out.begin());
  offset_ += count;
  return count;
}

}  // namespace rrkit::replay
