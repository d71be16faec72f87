#include "kvm/kvm_system.h"

#include <fcntl.h>
#include <sys/ioctl.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "kvm/cpuid_table.h"

namespace rrkit::kvm {
namespace {

constexpr int kExpectedApiVersion = 12;
constexpr const char* kPvmRefusal = "this kernel is itself a kvm-pvm guest; not binding";
constexpr const char* kOtherEngines =
    "run the KVM tests inside the emulated machine (`npm run test:kvm`), or use --engine emu";

bool FileContains(const char* path, const std::string& needle) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line))
    if (line.find(needle) != std::string::npos) return true;
  return false;
}

// The kernel log, read without blocking (needs CAP_SYSLOG when dmesg_restrict is set).
bool KernelLogContains(const std::string& needle) {
  UniqueFd kmsg(open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC));
  if (!kmsg.valid()) return false;
  char record[8192];
  for (;;) {
    const ssize_t n = read(kmsg.get(), record, sizeof record - 1);
    if (n < 0 && errno == EPIPE) continue;  // a record was overwritten while reading: go on
    if (n <= 0) return false;
    record[n] = '\0';
    if (std::strstr(record, needle.c_str()) != nullptr) return true;
  }
}

}  // namespace

KvmError::KvmError(const std::string& ioctl_name, int error_number)
    : std::runtime_error(ioctl_name + ": " + std::strerror(error_number)), errno_(error_number) {}

KvmHostFacts GatherHostFacts(const std::string& path, int open_errno) {
  KvmHostFacts facts;
  facts.path = path;
  facts.open_errno = open_errno;
  facts.misc_lists_kvm = FileContains("/proc/misc", " kvm");
  facts.cpu_has_virtualization = FileContains("/proc/cpuinfo", " vmx") || FileContains("/proc/cpuinfo", " svm");
  if (open_errno == ENOENT || open_errno == ENODEV || open_errno == ENXIO) facts.pvm_refuses_to_bind = KernelLogContains(kPvmRefusal);
  return facts;
}

std::string DescribeUnavailable(const KvmHostFacts& f) {
  const std::string& p = f.path;
  switch (f.open_errno) {
    case EACCES:
    case EPERM:
      return p + ": permission denied: add your user to the kvm group (`sudo usermod -aG kvm $USER`, then log in "
                 "again) or run as root";
    case ENOENT:
    case ENODEV:
    case ENXIO:
      if (f.pvm_refuses_to_bind)
        return p + " is absent: this kernel is itself a KVM PVM guest and kvm_pvm refuses to bind (kernel log: \"" +
               kPvmRefusal + "\"); " + kOtherEngines;
      if (f.misc_lists_kvm)
        return p + " is absent although the kernel registered a kvm device (/proc/misc lists one): create the node "
                   "(`mknod " + p + " c 10 232`) or check your container's device rules";
      if (f.cpu_has_virtualization)
        return p + " is absent: no KVM module is loaded (`modprobe kvm_intel` or `modprobe kvm_amd`); " + kOtherEngines;
      return p + " is absent: this CPU offers no hardware virtualization to this kernel (no vmx or svm in "
                 "/proc/cpuinfo); " + kOtherEngines;
    default:
      return p + ": cannot open: " + std::strerror(f.open_errno);
  }
}

KvmSystem KvmSystem::Open(const std::string& path) {
  UniqueFd fd(open(path.c_str(), O_RDWR | O_CLOEXEC));
  if (!fd.valid()) {
    const int error_number = errno;
    throw KvmUnavailable(DescribeUnavailable(GatherHostFacts(path, error_number)));
  }
  const int version = ioctl(fd.get(), KVM_GET_API_VERSION, 0);
  if (version != kExpectedApiVersion)
    throw KvmUnavailable(path + ": KVM API version " + std::to_string(version) + ", rrkit needs " +
                         std::to_string(kExpectedApiVersion));
  KvmSystem system(std::move(fd));
  // Kicking a vCPU out of KVM_RUN without a race needs immediate_exit.
  if (system.Extension(KVM_CAP_IMMEDIATE_EXIT) <= 0) throw KvmUnavailable(path + ": KVM lacks KVM_CAP_IMMEDIATE_EXIT");
  if (system.Extension(KVM_CAP_EXT_CPUID) <= 0) throw KvmUnavailable(path + ": KVM lacks KVM_CAP_EXT_CPUID");
  const int size = ioctl(system.fd(), KVM_GET_VCPU_MMAP_SIZE, 0);
  if (size <= 0) throw KvmError("KVM_GET_VCPU_MMAP_SIZE", errno);
  system.vcpu_mmap_size_ = static_cast<size_t>(size);
  return system;
}

int KvmSystem::Extension(long capability) const {
  const int r = ioctl(fd_.get(), KVM_CHECK_EXTENSION, capability);
  return r < 0 ? 0 : r;
}

std::vector<kvm_cpuid_entry2> KvmSystem::SupportedCpuid() const {
  for (uint32_t capacity = 128; capacity <= 4096; capacity *= 2) {
    CpuidTable table(capacity);
    if (ioctl(fd_.get(), kIoctlGetSupportedCpuid, table.data()) == 0) return table.Entries();
    if (errno != E2BIG) throw KvmError("KVM_GET_SUPPORTED_CPUID", errno);
  }
  throw KvmError("KVM_GET_SUPPORTED_CPUID", E2BIG);
}

}  // namespace rrkit::kvm
