// Which guest memory an x86-64 instruction touches, from its bytes and the registers: what
// the VMM needs when KVM_RUN fails with EFAULT on a page the vCPU may not touch (KVM then
// reports only the registers, no address). Decoding is Zydis's (Debian's libzydis-dev);
// this adds the register values and the instruction fetch itself. Pure: tested with
// made-up instructions (native/tools/kvm_crew_test.cc).
#pragma once

#include <linux/kvm.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace rrkit::kvm {

struct MemoryAccess {
  uint64_t address = 0;  // guest-virtual (= guest-physical: the board identity-maps RAM)
  uint64_t length = 0;   // bytes
  bool write = false;

  bool operator==(const MemoryAccess&) const = default;
};

struct DecodedAccesses {
  uint64_t instruction_length = 0;
  std::vector<MemoryAccess> accesses;  // the fetch of the instruction's bytes first, then its operands
};

class AccessDecoder {
 public:
  AccessDecoder();

  // `bytes` start at `regs.rip` (up to 15; fewer where RAM ends). Explicit and implicit
  // memory operands (stack pushes and pops, string instructions at their current rsi/rdi),
  // FS- and GS-relative ones with the bases in `sregs`. nullopt: not an instruction
  // Zydis knows, or an operand whose address it cannot compute; `error` says which.
  std::optional<DecodedAccesses> Decode(std::span<const uint8_t> bytes, const kvm_regs& regs, const kvm_sregs& sregs,
                                        std::string& error) const;

 private:
  struct State;
  std::shared_ptr<const State> state_;
};

}  // namespace rrkit::kvm
