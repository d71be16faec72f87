#include "kvm/guest_memory.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>

namespace rrkit::kvm {
namespace {

std::string Errno(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

std::string Range(uint64_t at, uint64_t length) {
  char text[64];
  std::snprintf(text, sizeof text, "0x%llx..0x%llx", static_cast<unsigned long long>(at),
                static_cast<unsigned long long>(at + length));
  return text;
}

}  // namespace

MemoryFile::MemoryFile(uint64_t size_bytes) : size_(size_bytes) {
  if (size_bytes == 0 || size_bytes % kPageBytes != 0)
    throw std::invalid_argument("guest RAM size must be a non-zero multiple of 4 KiB");
  fd_ = UniqueFd(memfd_create("rrkit-kvm-guest-ram", MFD_CLOEXEC));
  if (!fd_.valid()) throw std::runtime_error(Errno("memfd_create for guest RAM"));
  if (ftruncate(fd_.get(), static_cast<off_t>(size_bytes)) != 0) throw std::runtime_error(Errno("ftruncate of guest RAM"));
}

GuestMemory::GuestMemory(std::shared_ptr<const MemoryFile> file) : file_(std::move(file)) {
  void* mapping = mmap(nullptr, file_->size(), PROT_READ | PROT_WRITE, MAP_SHARED, file_->fd(), 0);
  if (mapping == MAP_FAILED) throw std::runtime_error(Errno("mmap of guest RAM"));
  host_ = static_cast<uint8_t*>(mapping);
}

GuestMemory::~GuestMemory() { munmap(host_, file_->size()); }

void GuestMemory::Write(uint64_t guest_physical, std::span<const uint8_t> bytes) {
  if (!Contains(guest_physical, bytes.size()))
    throw std::out_of_range("guest RAM write at " + Range(guest_physical, bytes.size()) + " is outside RAM");
  std::memcpy(host_ + guest_physical, bytes.data(), bytes.size());
}

void GuestMemory::Read(uint64_t guest_physical, std::span<uint8_t> bytes) const {
  if (!Contains(guest_physical, bytes.size()))
    throw std::out_of_range("guest RAM read at " + Range(guest_physical, bytes.size()) + " is outside RAM");
  std::memcpy(bytes.data(), host_ + guest_physical, bytes.size());
}

void GuestMemory::Populate(uint64_t length) {
  length = std::min(length, size());
#ifndef MADV_POPULATE_WRITE
  constexpr int MADV_POPULATE_WRITE = 23;  // Linux 5.14
#endif
  if (madvise(host_, length, MADV_POPULATE_WRITE) == 0) return;
  // An older kernel: fault the pages in by writing what they hold (zero) to each.
  for (uint64_t offset = 0; offset < length; offset += kPageBytes) {
    auto* byte = reinterpret_cast<volatile uint8_t*>(host_ + offset);
    *byte = *byte;
  }
}

void GuestMemory::Write64(uint64_t guest_physical, uint64_t value) {
  Write(guest_physical, std::span(reinterpret_cast<const uint8_t*>(&value), sizeof value));
}

uint64_t GuestMemory::Read64(uint64_t guest_physical) const {
  uint64_t value = 0;
  Read(guest_physical, std::span(reinterpret_cast<uint8_t*>(&value), sizeof value));
  return value;
}

}  // namespace rrkit::kvm
