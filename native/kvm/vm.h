// A KVM virtual machine: its guest memory slot and the slot's dirty-page log.
//
// rrkit's VMs have no in-kernel irqchip (rrkit injects every interrupt itself, so that it
// decides, and logs, when) and one memory slot: guest-physical [0, RAM size).
#pragma once

#include <cstdint>
#include <vector>

#include "kvm/guest_memory.h"
#include "kvm/kvm_system.h"
#include "kvm/unique_fd.h"

namespace rrkit::kvm {

class Vm {
 public:
  // Maps `memory` at guest-physical 0 as slot 0. With `log_dirty`, KVM logs the pages the
  // guest writes (read with TakeDirtyPages).
  Vm(const KvmSystem& system, const GuestMemory& memory, bool log_dirty);

  int fd() const { return fd_.get(); }
  const KvmSystem& system() const { return system_; }

  // The pages of slot 0 the guest wrote since the last call, as a bitmap of 64-bit words,
  // page i in bit i % 64 of word i / 64; the log starts afresh (and KVM write-protects
  // the pages again, so that it sees their next write).
  std::vector<uint64_t> TakeDirtyPages();
  bool logs_dirty_pages() const { return log_dirty_; }
  // Whether the first TakeDirtyPages() reports every page rather than those written: KVM
  // started the log with all pages set and none write-protected (manual protection), so
  // that a run with no checkpoint before its end pays for no write-protection fault.
  bool first_take_reports_all() const { return manual_protect_; }

 private:
  const KvmSystem& system_;
  UniqueFd fd_;
  uint64_t memory_pages_;
  bool log_dirty_;
  bool manual_protect_ = false;  // KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 enabled: clear explicitly
};

}  // namespace rrkit::kvm
