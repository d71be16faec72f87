// Guest RAM: a memfd and a host mapping of it.
//
// The memfd is the memory; a mapping is one host view of it. One VM maps it once. SMP as
// one VM per vCPU (DESIGN.md) maps the same file once per VM at separate host addresses,
// so that each vCPU's page rights can differ (mprotect on one mapping affects only the VM
// that uses it) while all see the same bytes. Snapshots and replicas can map it too.
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "kvm/unique_fd.h"

namespace rrkit::kvm {

inline constexpr uint64_t kPageBytes = 4096;

// The memfd: zero-filled, of a fixed size, holes until written.
class MemoryFile {
 public:
  explicit MemoryFile(uint64_t size_bytes);
  int fd() const { return fd_.get(); }
  uint64_t size() const { return size_; }

 private:
  UniqueFd fd_;
  uint64_t size_;
};

// One read-write host mapping of a MemoryFile, for guest-physical [0, size).
class GuestMemory {
 public:
  explicit GuestMemory(std::shared_ptr<const MemoryFile> file);
  ~GuestMemory();
  GuestMemory(const GuestMemory&) = delete;
  GuestMemory& operator=(const GuestMemory&) = delete;

  // A second view of the same pages (another VM over the same RAM).
  std::unique_ptr<GuestMemory> MapAgain() const { return std::make_unique<GuestMemory>(file_); }

  uint8_t* host() const { return host_; }
  uint64_t size() const { return file_->size(); }
  const MemoryFile& file() const { return *file_; }

  bool Contains(uint64_t guest_physical, uint64_t length) const {
    return guest_physical < size() && length <= size() - guest_physical;
  }
  // Bounds-checked copies (std::out_of_range naming the range).
  void Write(uint64_t guest_physical, std::span<const uint8_t> bytes);
  void Read(uint64_t guest_physical, std::span<uint8_t> bytes) const;
  // Backs guest-physical [0, length) with host pages now, in this mapping, rather than at
  // the guest's first touch of each page: inside a nested VM that first touch costs
  // ~20 µs a page through KVM, against a few µs done here (docs/status.md). The pages
  // stay zero.
  void Populate(uint64_t length);

  // A 64-bit little-endian value (page tables, descriptors).
  void Write64(uint64_t guest_physical, uint64_t value);
  uint64_t Read64(uint64_t guest_physical) const;

 private:
  std::shared_ptr<const MemoryFile> file_;
  uint8_t* host_ = nullptr;
};

}  // namespace rrkit::kvm
