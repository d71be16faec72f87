#include "machine/console.h"

#include <poll.h>
#include <unistd.h>

#include <cerrno>

namespace rrkit::machine {

void ConsoleOutput::Put(uint8_t byte) {
  std::lock_guard lock(mutex_);
  digest_.bytes += 1;
  digest_.hash = (digest_.hash ^ byte) * 0x100000001b3ull;
  if (mode_ == Mode::kCapture) {
    captured_.push_back(static_cast<char>(byte));
    return;
  }
  pending_.push_back(static_cast<char>(byte));
  if (byte == '\n' || pending_.size() >= 4096) FlushLocked();
}

void ConsoleOutput::Flush() {
  std::lock_guard lock(mutex_);
  FlushLocked();
}

void ConsoleOutput::FlushLocked() {
  if (pending_.empty()) return;
  if (mode_ == Mode::kTagged) {
    const uint64_t position = tag_ ? tag_() : 0;
    const auto length = static_cast<uint32_t>(pending_.size());
    char head[12];
    for (int i = 0; i < 8; ++i) head[i] = static_cast<char>(position >> (8 * i));
    for (int i = 0; i < 4; ++i) head[8 + i] = static_cast<char>(length >> (8 * i));
    pending_.insert(0, head, sizeof head);
  }
  WriteAll(pending_.data(), pending_.size());
  pending_.clear();
}

void ConsoleOutput::WriteAll(const char* bytes, size_t length) {
  size_t done = 0;
  while (done < length) {
    const ssize_t n = write(STDOUT_FILENO, bytes + done, length - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      // A non-blocking stdout (a pipe another process drains): wait until it takes more.
      pollfd out{STDOUT_FILENO, POLLOUT, 0};
      poll(&out, 1, -1);
      continue;
    }
    if (n <= 0) break;  // stdout closed: the guest keeps running, its output is dropped
    done += static_cast<size_t>(n);
  }
}

replay::OutputDigest ConsoleOutput::Digest() {
  std::lock_guard lock(mutex_);
  return digest_;
}

ConsoleOutput::Snapshot ConsoleOutput::Save() {
  std::lock_guard lock(mutex_);
  return {digest_, mode_ == Mode::kCapture ? std::string() : pending_};
}

void ConsoleOutput::Restore(const Snapshot& snapshot) {
  std::lock_guard lock(mutex_);
  digest_ = snapshot.digest;
  if (mode_ == Mode::kCapture) {
    captured_ = snapshot.pending;
  } else {
    pending_ = snapshot.pending;
  }
}

std::string ConsoleOutput::Captured() {
  std::lock_guard lock(mutex_);
  return captured_;
}

ConsoleInput::ConsoleInput(std::vector<uint8_t> bytes, int fd) : queue_(bytes.begin(), bytes.end()), fd_(fd) {}

ConsoleInput::ConsoleInput(ConsoleInput&& other) noexcept
    : queue_(std::move(other.queue_)), fd_(other.fd_), eof_(other.eof_) {}

void ConsoleInput::PollLocked() {
  if (fd_ < 0 || eof_ || !queue_.empty()) return;
  pollfd pfd{fd_, POLLIN, 0};
  if (poll(&pfd, 1, 0) <= 0 || (pfd.revents & (POLLIN | POLLHUP)) == 0) return;
  uint8_t buffer[4096];
  const ssize_t n = read(fd_, buffer, sizeof buffer);
  if (n <= 0) {
    if (n == 0 || errno != EAGAIN) eof_ = true;
    return;
  }
  queue_.insert(queue_.end(), buffer, buffer + n);
}

bool ConsoleInput::Available() {
  std::lock_guard lock(mutex_);
  PollLocked();
  return !queue_.empty();
}

uint8_t ConsoleInput::Take() {
  std::lock_guard lock(mutex_);
  PollLocked();
  if (queue_.empty()) return 0;
  const uint8_t byte = queue_.front();
  queue_.pop_front();
  return byte;
}

}  // namespace rrkit::machine
