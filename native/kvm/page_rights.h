// A vCPU's page rights as its host mapping enforces them (SMP recording and replay, one VM
// per vCPU): CREW changes a vCPU's rights from whichever thread completes a transfer, and
// the vCPU's own thread brings its mapping up to date before it next enters the guest.
// Changes are only ever made while the vCPU is stopped at a landmark (faulted, at an exit,
// parked), so a mapping that lags behind its rights is never in use.
#pragma once

#include <cstdint>
#include <mutex>
#include <utility>
#include <vector>

#include "crew/permission_table.h"
#include "kvm/guest_memory.h"

namespace rrkit::kvm {

// Sets the protection of pages of one vCPU's view of guest RAM.
class PageProtector {
 public:
  virtual ~PageProtector() = default;
  // Pages [first, first + count) of `granularity` bytes from guest-physical 0.
  virtual void Protect(uint64_t first, uint64_t count, crew::Access access) = 0;
};

// mprotect on a GuestMemory mapping: none, read-only, read-write. KVM carries it into its
// page tables (shadow, EPT or NPT), so the guest's access stops KVM_RUN with EFAULT.
class MappingProtector final : public PageProtector {
 public:
  MappingProtector(GuestMemory& mapping, uint64_t granularity) : mapping_(mapping), granularity_(granularity) {}
  void Protect(uint64_t first, uint64_t count, crew::Access access) override;
  uint64_t calls() const { return calls_; }

 private:
  GuestMemory& mapping_;
  uint64_t granularity_;
  uint64_t calls_ = 0;
};

// The changes not yet applied to one vCPU's mapping.
class PendingRights {
 public:
  // Any thread (CREW calls it under its lock).
  void Note(uint64_t page, crew::Access access);
  // The vCPU's thread: applies every change noted so far (the last one per page), in runs
  // of neighbouring pages with the same access; returns how many Protect calls it made.
  size_t Apply(PageProtector& protector);

 private:
  std::mutex mutex_;
  std::vector<std::pair<uint64_t, crew::Access>> changes_;
  std::vector<std::pair<uint64_t, crew::Access>> scratch_;
};

}  // namespace rrkit::kvm
