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
  // Maps `memory` at guest-physical 0 as slot 0.
  Vm(const KvmSystem& system, const GuestMemory& memory);

  int fd() const { return fd_.get(); }
  const KvmSystem& system() const { return system_; }

  // Starts KVM's log of the pages the guest writes. Only when needed: while it is on, KVM
  // write-protects pages to see their writes, and on the nested PVM backend even a run
  // that never reads the log is up to 1.5x slower on memory-heavy code.
  void StartDirtyLog();
  bool logs_dirty_pages() const { return log_dirty_; }
  // The pages of slot 0 the guest wrote since StartDirtyLog or the last call, as a bitmap
  // of 64-bit words, page i in bit i % 64 of word i / 64; the log starts afresh.
  std::vector<uint64_t> TakeDirtyPages();

 private:
  const KvmSystem& system_;
  UniqueFd fd_;
  kvm_userspace_memory_region region_{};
  uint64_t memory_pages_;
  bool log_dirty_ = false;
};

}  // namespace rrkit::kvm
