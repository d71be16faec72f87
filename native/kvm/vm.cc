#include "kvm/vm.h"

#include <sys/ioctl.h>

#include <cerrno>

namespace rrkit::kvm {

Vm::Vm(const KvmSystem& system, const GuestMemory& memory, bool log_dirty)
    : system_(system), memory_pages_(memory.size() / kPageBytes), log_dirty_(log_dirty) {
  fd_ = UniqueFd(ioctl(system.fd(), KVM_CREATE_VM, 0));
  if (!fd_.valid()) throw KvmError("KVM_CREATE_VM", errno);
  if (log_dirty && system_.Extension(KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2) > 0) {
    // Pages start out "dirty" and writable: KVM write-protects a page only once its bit has
    // been read and cleared, so pages never logged cost no extra fault.
    kvm_enable_cap cap{};
    cap.cap = KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2;
    cap.args[0] = KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE | KVM_DIRTY_LOG_INITIALLY_SET;
    if (ioctl(fd_.get(), KVM_ENABLE_CAP, &cap) != 0) throw KvmError("KVM_ENABLE_CAP(MANUAL_DIRTY_LOG_PROTECT2)", errno);
    manual_protect_ = true;
  }
  kvm_userspace_memory_region region{};
  region.slot = 0;
  region.flags = log_dirty ? KVM_MEM_LOG_DIRTY_PAGES : 0;
  region.guest_phys_addr = 0;
  region.memory_size = memory.size();
  region.userspace_addr = reinterpret_cast<uint64_t>(memory.host());
  if (ioctl(fd_.get(), KVM_SET_USER_MEMORY_REGION, &region) != 0) throw KvmError("KVM_SET_USER_MEMORY_REGION", errno);
}

std::vector<uint64_t> Vm::TakeDirtyPages() {
  std::vector<uint64_t> bitmap((memory_pages_ + 63) / 64, 0);
  if (!log_dirty_) return bitmap;
  kvm_dirty_log log{};
  log.slot = 0;
  log.dirty_bitmap = bitmap.data();
  if (ioctl(fd_.get(), KVM_GET_DIRTY_LOG, &log) != 0) throw KvmError("KVM_GET_DIRTY_LOG", errno);
  if (manual_protect_) {
    kvm_clear_dirty_log clear{};
    clear.slot = 0;
    clear.first_page = 0;
    clear.num_pages = static_cast<uint32_t>(memory_pages_);
    clear.dirty_bitmap = bitmap.data();
    if (ioctl(fd_.get(), KVM_CLEAR_DIRTY_LOG, &clear) != 0) throw KvmError("KVM_CLEAR_DIRTY_LOG", errno);
  }
  return bitmap;
}

}  // namespace rrkit::kvm
