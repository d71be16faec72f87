#include "emu/memory.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

namespace rrkit::emu {
namespace {

std::string Errno(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

}  // namespace

GuestRam::GuestRam(uint64_t size_bytes) : size_(size_bytes) {
  if (size_bytes == 0 || (size_bytes & ((1u << kPageShift) - 1)) != 0)
    throw std::invalid_argument("guest RAM size must be a non-zero multiple of 4 KiB");
  fd_ = memfd_create("rrkit-guest-ram", MFD_CLOEXEC);
  if (fd_ < 0) throw std::runtime_error(Errno("memfd_create for guest RAM"));
  if (ftruncate(fd_, static_cast<off_t>(size_bytes)) != 0) {
    const std::string message = Errno("ftruncate of guest RAM");
    close(fd_);
    throw std::runtime_error(message);
  }
  void* mapping = mmap(nullptr, size_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
  if (mapping == MAP_FAILED) {
    const std::string message = Errno("mmap of guest RAM");
    close(fd_);
    throw std::runtime_error(message);
  }
  host_ = static_cast<uint8_t*>(mapping);
  code_lines_ = std::make_unique<std::atomic<uint8_t>[]>(size_bytes >> kCodeLineShift);
  reservation_versions_ = std::make_unique<std::atomic<uint64_t>[]>(kReservationSlots);
}

GuestRam::~GuestRam() {
  if (host_ != nullptr) munmap(host_, size_);
  if (fd_ >= 0) close(fd_);
}

void GuestRam::Write(uint64_t addr, std::span<const uint8_t> bytes) {
  if (!Contains(addr, bytes.size())) throw std::out_of_range("guest RAM write out of range");
  std::memcpy(host_ + (addr - kRamBase), bytes.data(), bytes.size());
}

void GuestRam::MarkCode(uint64_t offset, uint64_t len) {
  for (uint64_t line = offset >> kCodeLineShift; line <= (offset + len - 1) >> kCodeLineShift; ++line)
    code_lines_[line].store(1, std::memory_order_relaxed);
}

void GuestRam::ClearCodeMarks() {
  for (uint64_t i = 0; i < (size_ >> kCodeLineShift); ++i) code_lines_[i].store(0, std::memory_order_relaxed);
}

}  // namespace rrkit::emu
