#include "emu/hart.h"

#include <cstdio>

#include "emu/machine.h"
#include "emu/state_hash.h"
#include "text/hex.h"

namespace rrkit::emu {
namespace {

// CSR numbers (privileged spec, "Machine-Level CSRs").
enum Csr : uint32_t {
  kMstatus = 0x300,
  kMisa = 0x301,
  kMedeleg = 0x302,
  kMideleg = 0x303,
  kMie = 0x304,
  kMtvec = 0x305,
  kMcounteren = 0x306,
  kMcountinhibit = 0x320,
  kMscratch = 0x340,
  kMepc = 0x341,
  kMcause = 0x342,
  kMtval = 0x343,
  kMip = 0x344,
  kMcycle = 0xb00,
  kMinstret = 0xb02,
  kCycle = 0xc00,
  kTime = 0xc01,
  kInstret = 0xc02,
  kMvendorid = 0xf11,
  kMarchid = 0xf12,
  kMimpid = 0xf13,
  kMhartid = 0xf14,
};

// RV64 (MXL = 2) with I, M, A.
constexpr uint64_t kMisaValue = (uint64_t{2} << 62) | (1u << ('I' - 'A')) | (1u << ('M' - 'A')) | (1u << ('A' - 'A'));
constexpr uint64_t kInterruptMask = kMipMsip | kMipMtip | kMipMeip;

bool IsPmpOrCounterEvent(uint32_t csr) {
  return (csr >= 0x3a0 && csr <= 0x3ef) ||  // pmpcfg*, pmpaddr*: no PMP, read as zero
         (csr >= 0xb03 && csr <= 0xb1f) ||  // mhpmcounter3..31: hardwired zero
         (csr >= 0x323 && csr <= 0x33f);    // mhpmevent3..31
}

using text::Hex;

}  // namespace

const char* ExceptionName(Exception cause) {
  switch (cause) {
    case Exception::kInstructionMisaligned: return "instruction address misaligned";
    case Exception::kInstructionAccessFault: return "instruction access fault";
    case Exception::kIllegalInstruction: return "illegal instruction";
    case Exception::kBreakpoint: return "breakpoint";
    case Exception::kLoadMisaligned: return "load address misaligned";
    case Exception::kLoadAccessFault: return "load access fault";
    case Exception::kStoreMisaligned: return "store/AMO address misaligned";
    case Exception::kStoreAccessFault: return "store/AMO access fault";
    case Exception::kEcallFromM: return "environment call from M-mode";
  }
  return "exception";
}

std::optional<uint64_t> Hart::ReadCsr(uint32_t csr, uint64_t count) {
  switch (csr) {
    case kMstatus: return mstatus | kMstatusMpp;
    case kMisa: return kMisaValue;
    case kMedeleg: case kMideleg: case kMcounteren: case kMcountinhibit: return 0;
    case kMie: return mie;
    case kMtvec: return mtvec;
    case kMscratch: return mscratch;
    case kMepc: return mepc;
    case kMcause: return mcause;
    case kMtval: return mtval;
    case kMip:
      return machine_.world().Input(LandmarkAt(count), replay::InputKind::kInterruptPending,
                                    [this] { return LivePendingInterrupts(); });
    // One instruction per cycle: mcycle counts what minstret counts.
    case kMcycle: case kCycle: return count + mcycle_offset;
    case kMinstret: case kInstret: return count + minstret_offset;
    case kTime: return machine_.board().clint().ReadMtime(LandmarkAt(count));
    case kMvendorid: case kMarchid: case kMimpid: return 0;
    case kMhartid: return id_;
  }
  if (IsPmpOrCounterEvent(csr)) return 0;
  return std::nullopt;
}

bool Hart::WriteCsr(uint32_t csr, uint64_t value, uint64_t count) {
  // CSRs 0xCxx and 0xFxx are read-only (bits 11:10 == 3).
  if ((csr >> 10) == 3) return false;
  switch (csr) {
    case kMstatus:
      mstatus = (value & (kMstatusMie | kMstatusMpie)) | kMstatusMpp;
      NoteAttention(kAttentionInterrupt);
      return true;
    case kMie:
      mie = value & kInterruptMask;
      NoteAttention(kAttentionInterrupt);
      return true;
    // mtvec modes 0 (direct) and 1 (vectored); reserved modes read back as direct.
    case kMtvec: mtvec = (value & ~uint64_t{3}) | ((value & 3) == 1 ? 1 : 0); return true;
    case kMscratch: mscratch = value; return true;
    case kMepc: mepc = value & ~uint64_t{3}; return true;
    case kMcause: mcause = value; return true;
    case kMtval: mtval = value; return true;
    case kMip: return true;  // MSIP, MTIP and MEIP are read-only in mip: set by devices
    // The instruction writing minstret/mcycle retires after the write, so the next read
    // at count + 1 must see value + 1.
    case kMcycle: mcycle_offset = value - count - 1; return true;
    case kMinstret: minstret_offset = value - count - 1; return true;
    case kMisa: case kMedeleg: case kMideleg: case kMcounteren: case kMcountinhibit: return true;
  }
  return IsPmpOrCounterEvent(csr);
}

bool Hart::ExecuteCsr(const DecodedInsn& insn, uint64_t count) {
  const auto csr = static_cast<uint32_t>(insn.imm);
  const uint8_t rd = insn.rd;
  const bool immediate = insn.op == Op::kCsrrwi || insn.op == Op::kCsrrsi || insn.op == Op::kCsrrci;
  const uint64_t operand = immediate ? insn.rs1 : x[insn.rs1];
  const bool is_write = insn.op == Op::kCsrrw || insn.op == Op::kCsrrwi;
  // csrrs/csrrc with rs1 = x0 (or zimm = 0) only read; csrrw with rd = x0 only writes.
  const bool writes = is_write || insn.rs1 != 0;
  const bool reads = !is_write || rd != kSinkRegister;

  uint64_t old = 0;
  if (reads || !is_write) {
    const auto value = ReadCsr(csr, count);
    if (!value.has_value()) return false;
    old = *value;
  } else if ((csr >> 10) != 3 && !ReadCsr(csr, count).has_value()) {
    return false;
  }
  if (writes) {
    uint64_t next = operand;
    if (insn.op == Op::kCsrrs || insn.op == Op::kCsrrsi) next = old | operand;
    if (insn.op == Op::kCsrrc || insn.op == Op::kCsrrci) next = old & ~operand;
    if (!WriteCsr(csr, next, count)) return false;
  }
  x[rd] = old;
  return true;
}

void Hart::Mret() {
  const bool mpie = (mstatus & kMstatusMpie) != 0;
  mstatus = (mstatus & ~kMstatusMie) | (mpie ? kMstatusMie : 0) | kMstatusMpie | kMstatusMpp;
  pc = mepc;
  NoteAttention(kAttentionInterrupt);
}

void Hart::RaiseAttention(uint32_t bits) {
  attention.fetch_or(bits, std::memory_order_release);
  machine_.HartAttention(id_);
}

bool Hart::TakeException(Exception cause, uint64_t tval, uint32_t raw_instruction) {
  const uint64_t handler = mtvec & ~uint64_t{3};
  auto fatal = [&](const char* why) {
    fatal_error_ = "hart " + std::to_string(id_) + ": " + ExceptionName(cause) + " at pc " + Hex(pc) +
                   " (instruction " + Hex(raw_instruction) + ", mcause " + std::to_string(static_cast<uint64_t>(cause)) +
                   ", mtval " + Hex(tval) + ", after " + std::to_string(instret) + " instructions): " + why;
    return false;
  };
  if (handler == 0) return fatal("the guest has no trap handler (mtvec is 0)");
  if (!machine_.ram().Contains(handler, 4)) return fatal(("the trap handler at " + Hex(handler) + " is outside RAM").c_str());
  if (last_exception_at_ == instret) return fatal("trap loop (the trap handler faulted before retiring an instruction)");
  last_exception_at_ = instret;
  mepc = pc;
  mcause = static_cast<uint64_t>(cause);
  mtval = tval;
  const bool mie_set = (mstatus & kMstatusMie) != 0;
  mstatus = (mstatus & ~(kMstatusMie | kMstatusMpie)) | (mie_set ? kMstatusMpie : 0) | kMstatusMpp;
  pc = handler;  // exceptions always go to the base, vectored mode or not
  return true;
}

void Hart::TakeInterrupt(uint64_t cause) {
  mepc = pc;
  mcause = kMcauseInterrupt | cause;
  mtval = 0;
  const bool mie_set = (mstatus & kMstatusMie) != 0;
  mstatus = (mstatus & ~(kMstatusMie | kMstatusMpie)) | (mie_set ? kMstatusMpie : 0) | kMstatusMpp;
  const uint64_t base = mtvec & ~uint64_t{3};
  pc = (mtvec & 3) == 1 ? base + 4 * cause : base;
}

uint64_t Hart::LivePendingInterrupts() {
  Clint& clint = machine_.board().clint();
  uint64_t pending = 0;
  if (clint.SoftwarePending(id_)) pending |= kMipMsip;
  if (clint.TimerPending(id_)) pending |= kMipMtip;
  return pending;
}

uint64_t Hart::RegisterHash() const {
  StateHasher hasher;
  for (int i = 1; i < 32; ++i) hasher.Add(x[i]);
  for (uint64_t csr : {pc, mstatus, mie, mtvec, mscratch, mepc, mcause, mtval, minstret_offset, mcycle_offset})
    hasher.Add(csr);
  return hasher.Finish();
}

}  // namespace rrkit::emu
