#include "kvm/long_mode.h"

#include <stdexcept>

namespace rrkit::kvm {
namespace {

// Page-table entry bits.
constexpr uint64_t kPresent = 1 << 0;
constexpr uint64_t kWritable = 1 << 1;
constexpr uint64_t kUser = 1 << 2;
constexpr uint64_t kLargePage = 1 << 7;
constexpr uint64_t kTableFlags = kPresent | kWritable | kUser;

// 64-bit code and data descriptors, flat (the base and limit are ignored in long mode).
constexpr uint64_t kKernelCodeDescriptor = 0x00af'9a00'0000'ffff;  // P, DPL 0, code exec/read, L, G
constexpr uint64_t kKernelDataDescriptor = 0x00cf'9200'0000'ffff;  // P, DPL 0, data read/write, D/B, G
constexpr uint64_t kUserCodeDescriptor = 0x00af'fa00'0000'ffff;    // as above, DPL 3
constexpr uint64_t kUserDataDescriptor = 0x00cf'f200'0000'ffff;

constexpr uint32_t kTssBytes = 104;  // the 64-bit TSS
constexpr uint8_t kTssTypeAvailable = 9;
constexpr uint8_t kTssTypeBusy = 11;

kvm_segment FlatSegment(uint16_t selector, bool code) {
  kvm_segment s{};
  s.base = 0;
  s.limit = 0xffff'ffff;
  s.selector = selector;
  s.type = code ? 0xb : 0x3;  // code: execute/read, accessed; data: read/write, accessed
  s.present = 1;
  s.dpl = static_cast<uint8_t>(selector & 3);
  s.db = code ? 0 : 1;
  s.s = 1;
  s.l = code ? 1 : 0;
  s.g = 1;
  return s;
}

}  // namespace

void WriteLongModeTables(GuestMemory& memory, const std::vector<uint64_t>& interrupt_stack_tops) {
  if (memory.size() < kImageBase) throw std::invalid_argument("guest RAM must hold at least 1 MiB");
  if (interrupt_stack_tops.empty() || TssAddress(static_cast<uint32_t>(interrupt_stack_tops.size())) > kPml4Address)
    throw std::invalid_argument("between 1 and 32 TSSs fit below the page tables");

  // GDT: null, kernel code, kernel data, user code, user data, TSS (16 bytes).
  const uint64_t tss_low = (kTssBytes - 1) | ((kTssAddress & 0xff'ffff) << 16) | (uint64_t{kTssTypeAvailable} << 40) |
                           (uint64_t{1} << 47) | (((kTssAddress >> 24) & 0xff) << 56);
  const uint64_t gdt[] = {0, kKernelCodeDescriptor, kKernelDataDescriptor, kUserCodeDescriptor, kUserDataDescriptor,
                          tss_low, kTssAddress >> 32};
  for (size_t i = 0; i < std::size(gdt); ++i) memory.Write64(kGdtAddress + 8 * i, gdt[i]);

  // Each TSS: RSP0 at offset 4 (unaligned), the I/O map base at 102 pointing past the limit.
  for (uint32_t v = 0; v < interrupt_stack_tops.size(); ++v) {
    const uint64_t tss = TssAddress(v);
    for (uint64_t offset = 0; offset < kTssStride; offset += 8) memory.Write64(tss + offset, 0);
    uint8_t rsp0[8];
    for (int i = 0; i < 8; ++i) rsp0[i] = static_cast<uint8_t>(interrupt_stack_tops[v] >> (8 * i));
    memory.Write(tss + 4, rsp0);
    const uint8_t io_map_base[2] = {static_cast<uint8_t>(kTssBytes), 0};
    memory.Write(tss + 102, io_map_base);
  }

  // Page tables: PML4[0] -> PDPT; PDPT[0..3] -> one page directory per GiB of 2 MiB pages.
  memory.Write64(kPml4Address, kPdptAddress | kTableFlags);
  for (uint64_t i = 1; i < 512; ++i) memory.Write64(kPml4Address + 8 * i, 0);
  for (uint64_t gib = 0; gib < 512; ++gib) {
    const uint64_t entry = gib < 4 ? (kPageDirectoriesAddress + gib * kPageBytes) | kTableFlags : 0;
    memory.Write64(kPdptAddress + 8 * gib, entry);
  }
  for (uint64_t page = 0; page < kIdentityMappedBytes >> 21; ++page)
    memory.Write64(kPageDirectoriesAddress + 8 * page, (page << 21) | kTableFlags | kLargePage);
}

kvm_sregs LongModeSregs(const kvm_sregs& base, uint32_t vcpu, uint64_t fs_base) {
  kvm_sregs s = base;
  s.cs = FlatSegment(kKernelCodeSelector, true);
  s.ds = s.es = s.fs = s.gs = s.ss = FlatSegment(kKernelDataSelector, false);
  s.fs.base = fs_base;
  s.tr = kvm_segment{};
  s.tr.base = TssAddress(vcpu);
  s.tr.limit = kTssBytes - 1;
  s.tr.selector = kTssSelector;
  s.tr.type = kTssTypeBusy;
  s.tr.present = 1;
  s.ldt = kvm_segment{};
  s.ldt.type = 2;
  s.ldt.present = 1;
  s.ldt.unusable = 1;
  s.gdt.base = kGdtAddress;
  s.gdt.limit = 7 * 8 - 1;
  s.idt.base = 0;
  s.idt.limit = 0;
  s.cr0 = kCr0;
  s.cr3 = kPml4Address;
  s.cr4 = kCr4;
  s.efer = kEfer;
  return s;
}

std::vector<kvm_cpuid_entry2> GuestCpuid(std::vector<kvm_cpuid_entry2> supported) {
  for (kvm_cpuid_entry2& e : supported) {
    if (e.function == 1) {
      e.ecx &= ~(1u << 30);  // RDRAND: entropy the VMM cannot log
      e.edx &= ~(1u << 9);   // APIC: the board has no local APIC
    } else if (e.function == 7 && e.index == 0) {
      e.ebx &= ~(1u << 18);  // RDSEED
    } else if (e.function == 0xa) {
      e.eax = e.ebx = e.ecx = e.edx = 0;  // no PMU
    }
  }
  return supported;
}

}  // namespace rrkit::kvm
