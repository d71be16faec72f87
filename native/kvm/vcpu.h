// One KVM vCPU: its mmap'd kvm_run area, registers, interrupt injection and KVM_RUN.
//
// With KVM_CAP_SYNC_REGS, KVM copies the registers, special registers and pending events
// into kvm_run at every exit, and takes changed ones back at the next KVM_RUN: reading the
// registers at an exit and injecting an interrupt then cost no extra ioctl (each vCPU
// ioctl costs ~6 µs on the PVM backend). Without it, the same calls use ioctls.
#pragma once

#include <linux/kvm.h>
#include <pthread.h>

#include <mutex>
#include <cstdint>
#include <vector>

#include "kvm/unique_fd.h"
#include "kvm/vm.h"

namespace rrkit::kvm {

class Vcpu {
 public:
  Vcpu(Vm& vm, uint32_t id);
  ~Vcpu();
  Vcpu(const Vcpu&) = delete;
  Vcpu& operator=(const Vcpu&) = delete;

  uint32_t id() const { return id_; }
  kvm_run& run() { return *run_; }
  const kvm_run& run() const { return *run_; }
  bool has_sync_regs() const { return sync_regs_; }

  void SetCpuid(const std::vector<kvm_cpuid_entry2>& entries);
  // Before the first run (ioctls).
  void SetRegs(const kvm_regs& regs);
  void SetSregs(const kvm_sregs& sregs);

  // The registers as of the last exit.
  const kvm_regs& Regs();
  const kvm_sregs& Sregs();

  // Whether the guest can take an external interrupt when it resumes (IF set, no
  // interrupt shadow, nothing already being injected), as KVM reported at the last exit.
  bool ReadyForInterrupt() const { return run_->ready_for_interrupt_injection != 0 && run_->if_flag != 0; }
  // Injects external interrupt `vector` at the next KVM_RUN. Only when ReadyForInterrupt():
  // KVM delivers an injected interrupt even with IF clear, and a second injection before
  // KVM_RUN replaces the first.
  void InjectInterrupt(uint8_t vector);

  // KVM_RUN on the calling thread: at an exit (run().exit_reason says which), interrupted by
  // a kick (EINTR), or stopped on a guest access the host mapping does not allow (EFAULT:
  // KVM reports only the registers; SMP recording protects pages that way). Throws
  // KvmError for any other failure.
  enum class Stop { kExit, kKicked, kMemoryFault };
  Stop Run();

  // The thread that calls Run() binds itself; Kick() signals it until it unbinds (before
  // it ends).
  void BindToCallingThread();
  void UnbindThread();
  // From any thread: the current KVM_RUN, or the next one, returns false soon.
  void Kick();
  // On the vCPU thread after Run() returned false: the kick is consumed.
  void ClearKick();

 private:

  Vm& vm_;
  uint32_t id_;
  UniqueFd fd_;
  kvm_run* run_ = nullptr;
  size_t run_size_ = 0;
  bool sync_regs_ = false;
  // Without sync regs: registers fetched by ioctl at this exit, if any.
  bool regs_cached_ = false;
  bool sregs_cached_ = false;
  kvm_regs regs_{};
  kvm_sregs sregs_{};
  std::mutex thread_mutex_;  // a kick never signals a thread that has ended
  bool bound_ = false;
  pthread_t thread_{};
};

}  // namespace rrkit::kvm
