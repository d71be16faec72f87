// The vCPU's architectural state as checkpoints compare it, and as fault reports show it.
#pragma once

#include <linux/kvm.h>

#include <cstdint>
#include <string>

namespace rrkit::kvm {

// Hash of the state that must be equal at the same landmark in a recording and its replay:
// the general registers, rip, rflags, the segment selectors and the control registers.
uint64_t RegisterHash(const kvm_regs& regs, const kvm_sregs& sregs);

// One line: "rip=0x... rsp=0x... rflags=0x... cs=0x1b cr2=0x... rax=0x... ...".
std::string DescribeRegisters(const kvm_regs& regs, const kvm_sregs& sregs);

}  // namespace rrkit::kvm
