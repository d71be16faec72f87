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
  size_t done = 0;
  while (done < pending_.size()) {
    const ssize_t n = write(STDOUT_FILENO, pending_.data() + done, pending_.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // stdout closed: the guest keeps running, its output is dropped
    done += static_cast<size_t>(n);
  }
  pending_.clear();
}

replay::OutputDigest ConsoleOutput::Digest() {
  std::lock_guard lock(mutex_);
  return digest_;
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
