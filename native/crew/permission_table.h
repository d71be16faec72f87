// One vCPU's rights on every page: the software counterpart of its EPT write protection.
// The engine reads it on every guest memory access, so the check is one byte load and one
// compare.
//
// Why relaxed loads are enough: a vCPU's table is written by its own thread (on a fault,
// or when it yields at an instruction boundary), or by another thread only while this vCPU
// is parked (waiting in Crew::Acquire, idle, or retired) and so not accessing memory. A
// parked vCPU leaves the park through Crew's mutex, which orders those writes before its
// next access. Guest data itself is ordered the same way: a holder yields under the
// mutex and the new holder is granted under it.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

namespace rrkit::crew {

// Ordered: a right includes every right below it.
enum class Access : uint8_t { kNone = 0, kRead = 1, kWrite = 2 };

inline const char* AccessName(Access a) {
  switch (a) {
    case Access::kNone: return "none";
    case Access::kRead: return "read";
    case Access::kWrite: return "write";
  }
  return "?";
}

class PermissionTable {
 public:
  explicit PermissionTable(uint64_t pages) : pages_(pages), rights_(new std::atomic<uint8_t>[pages]) {
    for (uint64_t p = 0; p < pages; ++p) rights_[p].store(0, std::memory_order_relaxed);
  }

  uint64_t page_count() const { return pages_; }

  // The fast path. Atomics and LR/SC must ask for write.
  bool Allows(uint64_t page, bool write) const {
    return rights_[page].load(std::memory_order_relaxed) > static_cast<uint8_t>(write);
  }

  Access Get(uint64_t page) const { return static_cast<Access>(rights_[page].load(std::memory_order_relaxed)); }
  void Set(uint64_t page, Access access) { rights_[page].store(static_cast<uint8_t>(access), std::memory_order_relaxed); }

 private:
  uint64_t pages_;
  std::unique_ptr<std::atomic<uint8_t>[]> rights_;
};

}  // namespace rrkit::crew
