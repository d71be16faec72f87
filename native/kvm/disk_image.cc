#include "kvm/disk_image.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "kvm/disk_device.h"
#include "machine/image_error.h"

namespace rrkit::kvm {

DiskImage::DiskImage(const std::string& path) : path_(path) {
  // O_NONBLOCK: a FIFO must not block the open (it is refused below); reads of a regular
  // file are unaffected.
  fd_ = UniqueFd(open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
  if (!fd_.valid()) throw std::runtime_error("--disk " + path + ": " + std::strerror(errno));
  struct stat info {};
  if (fstat(fd_.get(), &info) != 0) throw std::runtime_error("--disk " + path + ": " + std::strerror(errno));
  if (!S_ISREG(info.st_mode)) throw machine::ImageError("--disk " + path + ": not a regular file");
  if (info.st_size == 0 || info.st_size % kSectorBytes != 0)
    throw machine::ImageError("--disk " + path + ": its size (" + std::to_string(info.st_size) +
                             " bytes) is not a positive multiple of 512-byte sectors");
  sectors_ = static_cast<uint64_t>(info.st_size) / kSectorBytes;
}

void DiskImage::Read(uint64_t offset, std::span<uint8_t> bytes) const {
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = pread(fd_.get(), bytes.data() + done, bytes.size() - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw std::runtime_error("reading disk image " + path_ + ": " + std::strerror(errno));
    if (n == 0) throw std::runtime_error("reading disk image " + path_ + ": it is shorter than when it was opened");
    done += static_cast<size_t>(n);
  }
}

DiskReader::DiskReader(const DiskImage& image) : image_(image), thread_([this] { Work(); }) {}

DiskReader::~DiskReader() {
  {
    std::lock_guard lock(mutex_);
    quit_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void DiskReader::Start(uint64_t offset, uint64_t length) {
  {
    std::lock_guard lock(mutex_);
    request_ = {offset, length};
    done_.reset();
  }
  cv_.notify_all();
}

std::optional<DiskReader::Done> DiskReader::Poll() {
  std::lock_guard lock(mutex_);
  std::optional<Done> done = std::move(done_);
  done_.reset();
  return done;
}

void DiskReader::WaitUntil(Clock::time_point deadline) {
  std::unique_lock lock(mutex_);
  cv_.wait_until(lock, deadline, [this] { return done_.has_value() || quit_; });
}

void DiskReader::Work() {
  std::unique_lock lock(mutex_);
  for (;;) {
    cv_.wait(lock, [this] { return request_.has_value() || quit_; });
    if (quit_) return;
    const auto [offset, length] = *request_;
    request_.reset();
    lock.unlock();
    Done done;
    done.data.resize(length);
    try {
      image_.Read(offset, done.data);
    } catch (const std::exception& e) {
      done.error = e.what();
    }
    done.finished = Clock::now();
    lock.lock();
    done_ = std::move(done);
    cv_.notify_all();
  }
}

}  // namespace rrkit::kvm
