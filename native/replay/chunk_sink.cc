#include "replay/chunk_sink.h"

#include <cerrno>
#include <system_error>

namespace rrkit::replay {

FileChunkSink::FileChunkSink(const std::string& path) : path_(path), file_(std::fopen(path.c_str(), "wb")) {
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
