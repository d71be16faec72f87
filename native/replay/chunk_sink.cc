#include "replay/chunk_sink.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <string_view>
#include <system_error>

namespace rrkit::replay {

namespace {

// "/dev/fd/N" names descriptor N as inherited — a pipe or a socket (a replica's engine
// writes its log to its parent), which Linux cannot reopen through /proc — so it is
// duplicated rather than opened. Anything else is a file, created or truncated.
std::FILE* OpenLogFile(const std::string& path) {
  constexpr std::string_view kInherited = "/dev/fd/";
  if (path.starts_with(kInherited)) {
    const std::string digits = path.substr(kInherited.size());
    if (!digits.empty() && digits.find_first_not_of("0123456789") == std::string::npos) {
      const int fd = ::fcntl(std::stoi(digits), F_DUPFD_CLOEXEC, 0);
      if (fd < 0) return nullptr;
      std::FILE* file = ::fdopen(fd, "wb");
      if (file == nullptr) ::close(fd);
      return file;
    }
  }
  return std::fopen(path.c_str(), "wb");
}

}  // namespace

FileChunkSink::FileChunkSink(const std::string& path) : path_(path), file_(OpenLogFile(path)) {
  if (!file_) throw std::system_error(errno, std::generic_category(), "cannot create log " + path);
}

void FileChunkSink::Write(Frame, std::span<const uint8_t> bytes) {
  if (std::fwrite(bytes.data(), 1, bytes.size(), file_.get()) != bytes.size()) {
    throw std::system_error(errno, std::generic_category(), "cannot write log " + path_);
  }
}

void FileChunkSink::Flush() {
  if (std::fflush(file_.get()) != 0) throw std::system_error(errno, std::generic_category(), "cannot flush log " + path_);
}

void MemoryChunkSink::Write(Frame, std::span<const uint8_t> bytes) {
  std::lock_guard lock(mutex_);
  bytes_.insert(bytes_.end(), bytes.begin(), bytes.end());
  ++frames_;
}

std::vector<uint8_t> MemoryChunkSink::bytes() const {
  std::lock_guard lock(mutex_);
  return bytes_;
}

size_t MemoryChunkSink::frames() const {
  std::lock_guard lock(mutex_);
  return frames_;
}

}  // namespace rrkit::replay
