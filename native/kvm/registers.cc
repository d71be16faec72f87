#include "kvm/registers.h"

#include <cstdio>
#include <initializer_list>

#include "emu/state_hash.h"

namespace rrkit::kvm {

uint64_t RegisterHash(const kvm_regs& r, const kvm_sregs& s) {
  emu::StateHasher h;
  for (uint64_t v : std::initializer_list<uint64_t>{r.rax, r.rbx, r.rcx, r.rdx, r.rsi, r.rdi, r.rsp, r.rbp, r.r8, r.r9, r.r10, r.r11, r.r12, r.r13,
                     r.r14, r.r15, r.rip, r.rflags})
    h.Add(v);
  for (uint64_t v : std::initializer_list<uint64_t>{s.cs.selector, s.ss.selector, s.ds.selector, s.es.selector, s.cr0, s.cr2, s.cr3, s.cr4, s.efer})
    h.Add(v);
  return h.Finish();
}

std::string DescribeRegisters(const kvm_regs& r, const kvm_sregs& s) {
  char text[640];
  std::snprintf(text, sizeof text,
                "rip=0x%llx rsp=0x%llx rflags=0x%llx cs=0x%x ss=0x%x cr0=0x%llx cr2=0x%llx cr3=0x%llx cr4=0x%llx "
                "rax=0x%llx rbx=0x%llx rcx=0x%llx rdx=0x%llx rsi=0x%llx rdi=0x%llx rbp=0x%llx",
                r.rip, r.rsp, r.rflags, s.cs.selector, s.ss.selector, s.cr0, s.cr2, s.cr3, s.cr4, r.rax, r.rbx, r.rcx,
                r.rdx, r.rsi, r.rdi, r.rbp);
  return text;
}

}  // namespace rrkit::kvm
