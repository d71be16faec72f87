#include "kvm/vcpu.h"

#include <sys/ioctl.h>
#include <sys/mman.h>

#include <cerrno>
#include <cstring>

#include "kvm/cpuid_table.h"
#include "kvm/thread_kick.h"

namespace rrkit::kvm {
namespace {

constexpr uint64_t kSyncedState = KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS | KVM_SYNC_X86_EVENTS;

}  // namespace

Vcpu::Vcpu(Vm& vm, uint32_t id) : vm_(vm), id_(id) {
  fd_ = UniqueFd(ioctl(vm.fd(), KVM_CREATE_VCPU, static_cast<unsigned long>(id)));
  if (!fd_.valid()) throw KvmError("KVM_CREATE_VCPU", errno);
  run_size_ = vm.system().vcpu_mmap_size();
  void* area = mmap(nullptr, run_size_, PROT_READ | PROT_WRITE, MAP_SHARED, fd_.get(), 0);
  if (area == MAP_FAILED) throw KvmError("mmap of kvm_run", errno);
  run_ = static_cast<kvm_run*>(area);
  const int sync = vm.system().Extension(KVM_CAP_SYNC_REGS);
  sync_regs_ = sync > 0 && (static_cast<uint64_t>(sync) & kSyncedState) == kSyncedState;
  if (sync_regs_) run_->kvm_valid_regs = kSyncedState;
  InstallKickHandler();
}

Vcpu::~Vcpu() {
  if (run_ != nullptr) munmap(run_, run_size_);
}

void Vcpu::SetCpuid(const std::vector<kvm_cpuid_entry2>& entries) {
  CpuidTable table(entries);
  if (ioctl(fd_.get(), kIoctlSetCpuid2, table.data()) != 0) throw KvmError("KVM_SET_CPUID2", errno);
}

void Vcpu::SetRegs(const kvm_regs& regs) {
  if (ioctl(fd_.get(), KVM_SET_REGS, &regs) != 0) throw KvmError("KVM_SET_REGS", errno);
  regs_cached_ = false;
}

void Vcpu::SetSregs(const kvm_sregs& sregs) {
  if (ioctl(fd_.get(), KVM_SET_SREGS, &sregs) != 0) throw KvmError("KVM_SET_SREGS", errno);
  sregs_cached_ = false;
}

const kvm_regs& Vcpu::Regs() {
  if (sync_regs_) return run_->s.regs.regs;
  if (!regs_cached_) {
    if (ioctl(fd_.get(), KVM_GET_REGS, &regs_) != 0) throw KvmError("KVM_GET_REGS", errno);
    regs_cached_ = true;
  }
  return regs_;
}

const kvm_sregs& Vcpu::Sregs() {
  if (sync_regs_) return run_->s.regs.sregs;
  if (!sregs_cached_) {
    if (ioctl(fd_.get(), KVM_GET_SREGS, &sregs_) != 0) throw KvmError("KVM_GET_SREGS", errno);
    sregs_cached_ = true;
  }
  return sregs_;
}

void Vcpu::InjectInterrupt(uint8_t vector) {
  if (sync_regs_) {
    kvm_vcpu_events& events = run_->s.regs.events;
    events.interrupt.injected = 1;
    events.interrupt.nr = vector;
    events.interrupt.soft = 0;
    run_->kvm_dirty_regs |= KVM_SYNC_X86_EVENTS;
    return;
  }
  kvm_interrupt interrupt{};
  interrupt.irq = vector;
  if (ioctl(fd_.get(), KVM_INTERRUPT, &interrupt) != 0) throw KvmError("KVM_INTERRUPT", errno);
}

Vcpu::Stop Vcpu::Run() {
  regs_cached_ = false;
  sregs_cached_ = false;
  if (ioctl(fd_.get(), KVM_RUN, 0) == 0) return Stop::kExit;
  if (errno == EINTR) return Stop::kKicked;
  if (errno == EFAULT) return Stop::kMemoryFault;
  throw KvmError("KVM_RUN", errno);
}

void Vcpu::BindToCallingThread() {
  std::lock_guard lock(thread_mutex_);
  thread_ = pthread_self();
  bound_ = true;
}

void Vcpu::UnbindThread() {
  std::lock_guard lock(thread_mutex_);
  bound_ = false;
}

void Vcpu::Kick() {
  // immediate_exit catches a kick that lands between two KVM_RUNs; the signal one that
  // lands inside KVM_RUN.
  __atomic_store_n(&run_->immediate_exit, 1, __ATOMIC_SEQ_CST);
  std::lock_guard lock(thread_mutex_);
  if (bound_) KickThread(thread_);
}

void Vcpu::ClearKick() { __atomic_store_n(&run_->immediate_exit, 0, __ATOMIC_SEQ_CST); }

}  // namespace rrkit::kvm
