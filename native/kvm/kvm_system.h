// /dev/kvm itself: opening it, its API version and capabilities, and the CPUID it
// supports. When it cannot be opened, the error is one line naming the cause (absent,
// no permission, the PVM backend refusing to bind) and what to do about it.
#pragma once

#include <linux/kvm.h>

#include <cstddef>
#include <stdexcept>
#include <string>
#include <vector>

#include "kvm/unique_fd.h"

namespace rrkit::kvm {

// /dev/kvm is missing or unusable; what() is one line for the user.
class KvmUnavailable : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A KVM ioctl failed; what() names it (kvm-hello-world style: "KVM_SET_SREGS: Invalid argument").
class KvmError : public std::runtime_error {
 public:
  KvmError(const std::string& ioctl_name, int error_number);
  int error_number() const { return errno_; }

 private:
  int errno_;
};

// What the host says about KVM when /dev/kvm did not open: gathered by HostKvmFacts(),
// turned into a message by DescribeUnavailable() (a pure function, tested with made-up facts).
struct KvmHostFacts {
  std::string path = "/dev/kvm";
  int open_errno = 0;                 // errno of the failed open
  bool misc_lists_kvm = false;        // /proc/misc has a kvm minor
  bool pvm_refuses_to_bind = false;   // kernel log: "this kernel is itself a kvm-pvm guest; not binding"
  bool cpu_has_virtualization = false;  // vmx or svm in /proc/cpuinfo
};

KvmHostFacts GatherHostFacts(const std::string& path, int open_errno);
std::string DescribeUnavailable(const KvmHostFacts& facts);

class KvmSystem {
 public:
  // Opens `path` and checks the API version and the capabilities rrkit cannot do without.
  // Throws KvmUnavailable with a one-line reason.
  static KvmSystem Open(const std::string& path = "/dev/kvm");

  int fd() const { return fd_.get(); }
  // KVM_CHECK_EXTENSION: 0 when absent, else a capability-specific positive value.
  int Extension(long capability) const;
  // Size of the kvm_run area each vCPU maps.
  size_t vcpu_mmap_size() const { return vcpu_mmap_size_; }
  // KVM_GET_SUPPORTED_CPUID.
  std::vector<kvm_cpuid_entry2> SupportedCpuid() const;

 private:
  explicit KvmSystem(UniqueFd fd) : fd_(std::move(fd)) {}

  UniqueFd fd_;
  size_t vcpu_mmap_size_ = 0;
};

}  // namespace rrkit::kvm
