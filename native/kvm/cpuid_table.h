// KVM's CPUID table in the layout of `struct kvm_cpuid2`, for C++.
//
// The kernel headers declare kvm_cpuid2's entries with __DECLARE_FLEX_ARRAY, which in C++
// (Linux 6.1's headers) adds an empty struct: sizeof and offsetof(entries) become 12, not
// 8, and so do the ioctl numbers built from them. This builds the real layout instead.
#pragma once

#include <linux/kvm.h>
#include <sys/ioctl.h>

#include <cstdint>
#include <cstring>
#include <vector>

namespace rrkit::kvm {

struct CpuidTableHeader {
  uint32_t nent;
  uint32_t padding;
};
static_assert(sizeof(CpuidTableHeader) == 8);

inline constexpr unsigned long kIoctlGetSupportedCpuid = _IOWR(KVMIO, 0x05, CpuidTableHeader);
inline constexpr unsigned long kIoctlSetCpuid2 = _IOW(KVMIO, 0x90, CpuidTableHeader);

// A kvm_cpuid2 buffer with room for `capacity` entries.
class CpuidTable {
 public:
  explicit CpuidTable(uint32_t capacity)
      : bytes_(sizeof(CpuidTableHeader) + capacity * sizeof(kvm_cpuid_entry2), 0) {
    header()->nent = capacity;
  }
  explicit CpuidTable(const std::vector<kvm_cpuid_entry2>& entries) : CpuidTable(static_cast<uint32_t>(entries.size())) {
    std::memcpy(bytes_.data() + sizeof(CpuidTableHeader), entries.data(), entries.size() * sizeof(kvm_cpuid_entry2));
  }

  void* data() { return bytes_.data(); }
  std::vector<kvm_cpuid_entry2> Entries() const {
    std::vector<kvm_cpuid_entry2> out(reinterpret_cast<const CpuidTableHeader*>(bytes_.data())->nent);
    std::memcpy(out.data(), bytes_.data() + sizeof(CpuidTableHeader), out.size() * sizeof(kvm_cpuid_entry2));
    return out;
  }

 private:
  CpuidTableHeader* header() { return reinterpret_cast<CpuidTableHeader*>(bytes_.data()); }
  std::vector<uint8_t> bytes_;
};

}  // namespace rrkit::kvm
