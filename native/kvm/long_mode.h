// The x86_64 board's CPU state at reset (docs/platform.md): long mode set up by the VMM,
// not by the guest, so that the guest's emulated CPL0 start-up stays short.
//
// The VMM owns guest memory below 0x0010_0000: the GDT, the TSS and the page tables go
// there. Paging identity-maps the first 4 GiB with 2 MiB pages, user-accessible at every
// level (the workload runs at CPL3); the devices page at 0xD000_0000 lies inside it.
#pragma once

#include <linux/kvm.h>

#include <cstdint>
#include <vector>

#include "kvm/guest_memory.h"

namespace rrkit::kvm {

// Where the tables live (guest-physical).
inline constexpr uint64_t kGdtAddress = 0x1000;
inline constexpr uint64_t kTssAddress = 0x2000;
inline constexpr uint64_t kPml4Address = 0x3000;
inline constexpr uint64_t kPdptAddress = 0x4000;
inline constexpr uint64_t kPageDirectoriesAddress = 0x5000;  // four, one per GiB
inline constexpr uint64_t kImageBase = 0x0010'0000;          // the lowest address an image may use
inline constexpr uint64_t kIdentityMappedBytes = uint64_t{4} << 30;

// Segment selectors (GDT index * 8 | RPL).
inline constexpr uint16_t kKernelCodeSelector = 0x08;
inline constexpr uint16_t kKernelDataSelector = 0x10;
inline constexpr uint16_t kUserCodeSelector = 0x1b;
inline constexpr uint16_t kUserDataSelector = 0x23;
inline constexpr uint16_t kTssSelector = 0x28;

inline constexpr uint64_t kCr0 = 0x8005'0033;  // PG AM WP NE ET MP PE
// PAE, OSFXSR, OSXMMEXCPT, and TSD: RDTSC at CPL3 raises #GP. The TSC is a source of
// nondeterminism that KVM does not let rrkit log; guests read the clock device instead.
inline constexpr uint64_t kCr4 = 0x624;
inline constexpr uint64_t kEfer = 0x500;  // LME LMA

// One TSS per vCPU (SMP: each hart takes interrupts on its own stack), 128 bytes apart.
inline constexpr uint64_t kTssStride = 128;
inline constexpr uint64_t TssAddress(uint32_t vcpu) { return kTssAddress + vcpu * kTssStride; }

// Writes the GDT, one TSS per entry of `interrupt_stack_tops` (vCPU i's RSP0, no I/O
// bitmap) and the page tables into `memory`, which must hold at least kImageBase bytes.
void WriteLongModeTables(GuestMemory& memory, const std::vector<uint64_t>& interrupt_stack_tops);
inline void WriteLongModeTables(GuestMemory& memory, uint64_t interrupt_stack_top) {
  WriteLongModeTables(memory, std::vector<uint64_t>{interrupt_stack_top});
}

// `base` with long mode, the segments, GDTR and TR (vCPU `vcpu`'s TSS) set: CPL0,
// interrupts disabled (the rest of `base` — APIC base, interrupt bitmap — is kept; the
// VMM passes zeros). The IDT is the guest's to load. `fs_base`: the hart's area (SMP).
kvm_sregs LongModeSregs(const kvm_sregs& base, uint32_t vcpu = 0, uint64_t fs_base = 0);

// The guest's CPUID: what KVM supports, minus what would make a guest nondeterministic or
// assume hardware the board lacks. Pure, for tests.
std::vector<kvm_cpuid_entry2> GuestCpuid(std::vector<kvm_cpuid_entry2> supported);

}  // namespace rrkit::kvm
