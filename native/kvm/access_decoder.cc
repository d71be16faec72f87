#include "kvm/access_decoder.h"
#include "text/hex.h"

#include <Zydis/Zydis.h>

#include <algorithm>
#include <cstdio>
#include <memory>

namespace rrkit::kvm {

struct AccessDecoder::State {
  ZydisDecoder decoder;
};

AccessDecoder::AccessDecoder() {
  auto state = std::make_shared<State>();
  ZydisDecoderInit(&state->decoder, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
  state_ = std::move(state);
}

namespace {

// A general-purpose register's 64-bit value; nullopt for anything else (it cannot address
// memory in the guests rrkit runs: no VSIB, no segment-relative bases but FS and GS).
std::optional<uint64_t> RegisterValue(ZydisRegister reg, const kvm_regs& r) {
  switch (ZydisRegisterGetLargestEnclosing(ZYDIS_MACHINE_MODE_LONG_64, reg)) {
    case ZYDIS_REGISTER_RAX: return r.rax;
    case ZYDIS_REGISTER_RBX: return r.rbx;
    case ZYDIS_REGISTER_RCX: return r.rcx;
    case ZYDIS_REGISTER_RDX: return r.rdx;
    case ZYDIS_REGISTER_RSI: return r.rsi;
    case ZYDIS_REGISTER_RDI: return r.rdi;
    case ZYDIS_REGISTER_RBP: return r.rbp;
    case ZYDIS_REGISTER_RSP: return r.rsp;
    case ZYDIS_REGISTER_R8: return r.r8;
    case ZYDIS_REGISTER_R9: return r.r9;
    case ZYDIS_REGISTER_R10: return r.r10;
    case ZYDIS_REGISTER_R11: return r.r11;
    case ZYDIS_REGISTER_R12: return r.r12;
    case ZYDIS_REGISTER_R13: return r.r13;
    case ZYDIS_REGISTER_R14: return r.r14;
    case ZYDIS_REGISTER_R15: return r.r15;
    default: return std::nullopt;
  }
}

using text::Hex;

}  // namespace

std::optional<DecodedAccesses> AccessDecoder::Decode(std::span<const uint8_t> bytes, const kvm_regs& regs,
                                                     const kvm_sregs& sregs, std::string& error) const {
  ZydisDecodedInstruction insn;
  ZydisDecodedOperand operands[ZYDIS_MAX_OPERAND_COUNT];
  if (!ZYAN_SUCCESS(ZydisDecoderDecodeFull(&state_->decoder, bytes.data(), bytes.size(), &insn, operands))) {
    error = "no x86-64 instruction Zydis can decode at rip " + Hex(regs.rip);
    return std::nullopt;
  }
  DecodedAccesses out;
  out.instruction_length = insn.length;
  out.accesses.push_back({regs.rip, insn.length, false});
  for (uint8_t i = 0; i < insn.operand_count; ++i) {
    const ZydisDecodedOperand& op = operands[i];
    if (op.type != ZYDIS_OPERAND_TYPE_MEMORY || op.mem.type != ZYDIS_MEMOP_TYPE_MEM) continue;  // lea computes, touches nothing
    const bool reads = (op.actions & ZYDIS_OPERAND_ACTION_MASK_READ) != 0;
    const bool writes = (op.actions & ZYDIS_OPERAND_ACTION_MASK_WRITE) != 0;
    if (!reads && !writes) continue;
    uint64_t address = 0;
    if (op.mem.base == ZYDIS_REGISTER_RIP || op.mem.base == ZYDIS_REGISTER_EIP) {
      address = regs.rip + insn.length;
    } else if (op.mem.base != ZYDIS_REGISTER_NONE) {
      const auto base = RegisterValue(op.mem.base, regs);
      if (!base) {
        error = "an operand based on a register rrkit does not follow, at rip " + Hex(regs.rip);
        return std::nullopt;
      }
      address = *base;
    }
    if (op.mem.index != ZYDIS_REGISTER_NONE) {
      const auto index = RegisterValue(op.mem.index, regs);
      if (!index) {
        error = "an operand indexed by a register rrkit does not follow, at rip " + Hex(regs.rip);
        return std::nullopt;
      }
      address += *index * op.mem.scale;
    }
    if (op.mem.disp.has_displacement) address += static_cast<uint64_t>(op.mem.disp.value);
    const uint64_t length = std::max<uint64_t>(1, op.size / 8);
    // A push (push, call, pushf) stores below rsp; Zydis names the slot [rsp].
    if (op.visibility == ZYDIS_OPERAND_VISIBILITY_HIDDEN && op.mem.base == ZYDIS_REGISTER_RSP && writes && !reads) address -= length;
    if (insn.address_width == 32) address &= 0xffff'ffff;
    if (op.mem.segment == ZYDIS_REGISTER_FS) address += sregs.fs.base;
    if (op.mem.segment == ZYDIS_REGISTER_GS) address += sregs.gs.base;
    out.accesses.push_back({address, length, writes});
  }
  return out;
}

}  // namespace rrkit::kvm
