// How guest-physical addresses map to CREW pages: a power-of-two granularity over one
// contiguous range (the machine's RAM). CREW works on guest-physical addresses, as EPT
// does, so an MMU above it changes nothing here.
#pragma once

#include <bit>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace rrkit::crew {

class PageGeometry {
 public:
  static constexpr uint64_t kMinGranularity = 64;              // a cache line
  static constexpr uint64_t kMaxGranularity = 2 * 1024 * 1024;  // a huge page
  static constexpr uint64_t kDefaultGranularity = 4096;

  PageGeometry(uint64_t base, uint64_t size, uint64_t granularity = kDefaultGranularity)
      : base_(base), size_(size), shift_(static_cast<unsigned>(std::countr_zero(granularity))) {
    if (!std::has_single_bit(granularity) || granularity < kMinGranularity || granularity > kMaxGranularity) {
      throw std::invalid_argument("CREW page granularity must be a power of two from 64 B to 2 MiB, got " +
                                  std::to_string(granularity));
    }
    if (size == 0) throw std::invalid_argument("CREW memory range is empty");
  }

  uint64_t base() const { return base_; }
  uint64_t size() const { return size_; }
  uint64_t granularity() const { return uint64_t{1} << shift_; }
  uint64_t page_count() const { return (size_ + granularity() - 1) >> shift_; }

  bool Contains(uint64_t address) const { return address - base_ < size_; }
  // The page of an address the caller knows is inside the range.
  uint64_t PageOf(uint64_t address) const { return (address - base_) >> shift_; }
  uint64_t AddressOf(uint64_t page) const { return base_ + (page << shift_); }

 private:
  uint64_t base_;
  uint64_t size_;
  unsigned shift_;
};

}  // namespace rrkit::crew
