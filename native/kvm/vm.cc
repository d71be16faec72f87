#include "kvm/vm.h"

#include <sys/ioctl.h>

#include <cerrno>

namespace rrkit::kvm {

Vm::Vm(const KvmSystem& system, const GuestMemory& memory)
    : system_(system), memory_pages_(memory.size() / kPageBytes) {
  fd_ = UniqueFd(ioctl(system.fd(), KVM_CREATE_VM, 0));
  if (!fd_.valid()) throw KvmError("KVM_CREATE_VM", errno);
  region_.slot = 0;
  region_.flags = 0;
  region_.guest_phys_addr = 0;
  region_.memory_size = memory.size();
  region_.userspace_addr = reinterpret_cast<uint64_t>(memory.host());
  if (ioctl(fd_.get(), KVM_SET_USER_MEMORY_REGION, &region_) != 0) throw KvmError("KVM_SET_USER_MEMORY_REGION", errno);
}

void Vm::StartDirtyLog() {
  if (log_dirty_) return;
  // The same slot with the flag set: KVM write-protects its pages and starts an empty log.
  region_.flags = KVM_MEM_LOG_DIRTY_PAGES;
  if (ioctl(fd_.get(), KVM_SET_USER_MEMORY_REGION, &region_) != 0) throw KvmError("KVM_SET_USER_MEMORY_REGION(LOG_DIRTY_PAGES)", errno);
  log_dirty_ = true;
}

std::vector<uint64_t> Vm::TakeDirtyPages() {
  std::vector<uint64_t> bitmap((memory_pages_ + 63) / 64, 0);
  if (!log_dirty_) return bitmap;
  kvm_dirty_log log{};
  log.slot = 0;
  log.dirty_bitmap = bitmap.data();
  // Without manual protection (never enabled here), the get also clears the log and
  // write-protects the pages it reports.
  if (ioctl(fd_.get(), KVM_GET_DIRTY_LOG, &log) != 0) throw KvmError("KVM_GET_DIRTY_LOG", errno);
  return bitmap;
}

}  // namespace rrkit::kvm
