// RV64IMA + Zicsr decoding. Field layouts follow the RISC-V unprivileged spec, chapter
// "RV32I Base Integer Instruction Set", table of base opcodes.
#include "emu/decoder.h"

#include <cstddef>

namespace rrkit::emu {
namespace {

constexpr uint32_t Bits(uint32_t raw, int hi, int lo) { return (raw >> lo) & ((1u << (hi - lo + 1)) - 1); }

constexpr int64_t SignExtend(uint64_t value, int bits) {
  const int shift = 64 - bits;
  return static_cast<int64_t>(value << shift) >> shift;
}

int64_t ImmI(uint32_t raw) { return SignExtend(raw >> 20, 12); }
int64_t ImmS(uint32_t raw) { return SignExtend((Bits(raw, 31, 25) << 5) | Bits(raw, 11, 7), 12); }
int64_t ImmB(uint32_t raw) {
  return SignExtend((Bits(raw, 31, 31) << 12) | (Bits(raw, 7, 7) << 11) | (Bits(raw, 30, 25) << 5) |
                        (Bits(raw, 11, 8) << 1),
                    13);
}
int64_t ImmU(uint32_t raw) { return SignExtend(raw & 0xfffff000u, 32); }
int64_t ImmJ(uint32_t raw) {
  return SignExtend((Bits(raw, 31, 31) << 20) | (Bits(raw, 19, 12) << 12) | (Bits(raw, 20, 20) << 11) |
                        (Bits(raw, 30, 21) << 1),
                    21);
}

DecodedInsn Make(Op op, uint32_t raw, int64_t imm = 0) {
  DecodedInsn d;
  d.op = op;
  d.raw = raw;
  const uint8_t rd = static_cast<uint8_t>(Bits(raw, 11, 7));
  d.rd = rd == 0 ? kSinkRegister : rd;
  d.rs1 = static_cast<uint8_t>(Bits(raw, 19, 15));
  d.rs2 = static_cast<uint8_t>(Bits(raw, 24, 20));
  d.imm = imm;
  return d;
}

DecodedInsn Illegal(uint32_t raw) {
  DecodedInsn d;
  d.op = Op::kIllegal;
  d.raw = raw;
  return d;
}

DecodedInsn DecodeOpImm(uint32_t raw) {
  const uint32_t f3 = Bits(raw, 14, 12);
  const int64_t imm = ImmI(raw);
  const uint32_t f6 = Bits(raw, 31, 26);
  const int64_t shamt = Bits(raw, 25, 20);
  switch (f3) {
    case 0: return Make(Op::kAddi, raw, imm);
    case 2: return Make(Op::kSlti, raw, imm);
    case 3: return Make(Op::kSltiu, raw, imm);
    case 4: return Make(Op::kXori, raw, imm);
    case 6: return Make(Op::kOri, raw, imm);
    case 7: return Make(Op::kAndi, raw, imm);
    case 1: return f6 == 0 ? Make(Op::kSlli, raw, shamt) : Illegal(raw);
    case 5:
      if (f6 == 0) return Make(Op::kSrli, raw, shamt);
      if (f6 == 0x10) return Make(Op::kSrai, raw, shamt);
      return Illegal(raw);
  }
  return Illegal(raw);
}

DecodedInsn DecodeOpImm32(uint32_t raw) {
  const uint32_t f3 = Bits(raw, 14, 12);
  const uint32_t f7 = Bits(raw, 31, 25);
  const int64_t shamt = Bits(raw, 24, 20);
  switch (f3) {
    case 0: return Make(Op::kAddiw, raw, ImmI(raw));
    case 1: return f7 == 0 ? Make(Op::kSlliw, raw, shamt) : Illegal(raw);
    case 5:
      if (f7 == 0) return Make(Op::kSrliw, raw, shamt);
      if (f7 == 0x20) return Make(Op::kSraiw, raw, shamt);
      return Illegal(raw);
  }
  return Illegal(raw);
}

DecodedInsn DecodeOp(uint32_t raw) {
  const uint32_t key = (Bits(raw, 31, 25) << 3) | Bits(raw, 14, 12);
  switch (key) {
    case 0x000: return Make(Op::kAdd, raw);
    case 0x100: return Make(Op::kSub, raw);
    case 0x001: return Make(Op::kSll, raw);
    case 0x002: return Make(Op::kSlt, raw);
    case 0x003: return Make(Op::kSltu, raw);
    case 0x004: return Make(Op::kXor, raw);
    case 0x005: return Make(Op::kSrl, raw);
    case 0x105: return Make(Op::kSra, raw);
    case 0x006: return Make(Op::kOr, raw);
    case 0x007: return Make(Op::kAnd, raw);
    case 0x008: return Make(Op::kMul, raw);
    case 0x009: return Make(Op::kMulh, raw);
    case 0x00a: return Make(Op::kMulhsu, raw);
    case 0x00b: return Make(Op::kMulhu, raw);
    case 0x00c: return Make(Op::kDiv, raw);
    case 0x00d: return Make(Op::kDivu, raw);
    case 0x00e: return Make(Op::kRem, raw);
    case 0x00f: return Make(Op::kRemu, raw);
  }
  return Illegal(raw);
}

DecodedInsn DecodeOp32(uint32_t raw) {
  const uint32_t key = (Bits(raw, 31, 25) << 3) | Bits(raw, 14, 12);
  switch (key) {
    case 0x000: return Make(Op::kAddw, raw);
    case 0x100: return Make(Op::kSubw, raw);
    case 0x001: return Make(Op::kSllw, raw);
    case 0x005: return Make(Op::kSrlw, raw);
    case 0x105: return Make(Op::kSraw, raw);
    case 0x008: return Make(Op::kMulw, raw);
    case 0x00c: return Make(Op::kDivw, raw);
    case 0x00d: return Make(Op::kDivuw, raw);
    case 0x00e: return Make(Op::kRemw, raw);
    case 0x00f: return Make(Op::kRemuw, raw);
  }
  return Illegal(raw);
}

DecodedInsn DecodeAmo(uint32_t raw) {
  const uint32_t f3 = Bits(raw, 14, 12);
  if (f3 != 2 && f3 != 3) return Illegal(raw);
  const bool d = f3 == 3;
  const uint32_t f5 = Bits(raw, 31, 27);
  switch (f5) {
    case 0x02: return Bits(raw, 24, 20) == 0 ? Make(d ? Op::kLrD : Op::kLrW, raw) : Illegal(raw);
    case 0x03: return Make(d ? Op::kScD : Op::kScW, raw);
    case 0x01: return Make(d ? Op::kAmoswapD : Op::kAmoswapW, raw);
    case 0x00: return Make(d ? Op::kAmoaddD : Op::kAmoaddW, raw);
    case 0x04: return Make(d ? Op::kAmoxorD : Op::kAmoxorW, raw);
    case 0x0c: return Make(d ? Op::kAmoandD : Op::kAmoandW, raw);
    case 0x08: return Make(d ? Op::kAmoorD : Op::kAmoorW, raw);
    case 0x10: return Make(d ? Op::kAmominD : Op::kAmominW, raw);
    case 0x14: return Make(d ? Op::kAmomaxD : Op::kAmomaxW, raw);
    case 0x18: return Make(d ? Op::kAmominuD : Op::kAmominuW, raw);
    case 0x1c: return Make(d ? Op::kAmomaxuD : Op::kAmomaxuW, raw);
  }
  return Illegal(raw);
}

DecodedInsn DecodeSystem(uint32_t raw) {
  const uint32_t f3 = Bits(raw, 14, 12);
  const int64_t csr = Bits(raw, 31, 20);
  switch (f3) {
    case 0:
      if (Bits(raw, 11, 7) != 0 || Bits(raw, 19, 15) != 0) return Illegal(raw);
      switch (raw >> 20) {
        case 0x000: return Make(Op::kEcall, raw);
        case 0x001: return Make(Op::kEbreak, raw);
        case 0x302: return Make(Op::kMret, raw);
        case 0x105: return Make(Op::kWfi, raw);
      }
      return Illegal(raw);
    case 1: return Make(Op::kCsrrw, raw, csr);
    case 2: return Make(Op::kCsrrs, raw, csr);
    case 3: return Make(Op::kCsrrc, raw, csr);
    case 5: return Make(Op::kCsrrwi, raw, csr);
    case 6: return Make(Op::kCsrrsi, raw, csr);
    case 7: return Make(Op::kCsrrci, raw, csr);
  }
  return Illegal(raw);
}

}  // namespace

DecodedInsn Decode(uint32_t raw, uint64_t pc) {
  // Without the C extension every instruction has its two low bits set.
  if ((raw & 3) != 3) return Illegal(raw);
  const uint32_t f3 = Bits(raw, 14, 12);
  switch (Bits(raw, 6, 0)) {
    case 0x37: return Make(Op::kLui, raw, ImmU(raw));
    case 0x17: return Make(Op::kAuipc, raw, static_cast<int64_t>(pc + ImmU(raw)));
    case 0x6f: return Make(Op::kJal, raw, static_cast<int64_t>(pc + ImmJ(raw)));
    case 0x67: return f3 == 0 ? Make(Op::kJalr, raw, ImmI(raw)) : Illegal(raw);
    case 0x63: {
      static constexpr Op kBranches[8] = {Op::kBeq, Op::kBne, Op::kIllegal, Op::kIllegal,
                                          Op::kBlt, Op::kBge, Op::kBltu,    Op::kBgeu};
      if (kBranches[f3] == Op::kIllegal) return Illegal(raw);
      return Make(kBranches[f3], raw, static_cast<int64_t>(pc + ImmB(raw)));
    }
    case 0x03: {
      static constexpr Op kLoads[8] = {Op::kLb, Op::kLh, Op::kLw, Op::kLd, Op::kLbu, Op::kLhu, Op::kLwu, Op::kIllegal};
      if (kLoads[f3] == Op::kIllegal) return Illegal(raw);
      return Make(kLoads[f3], raw, ImmI(raw));
    }
    case 0x23: {
      static constexpr Op kStores[4] = {Op::kSb, Op::kSh, Op::kSw, Op::kSd};
      if (f3 > 3) return Illegal(raw);
      DecodedInsn d = Make(kStores[f3], raw, ImmS(raw));
      d.rd = kSinkRegister;
      return d;
    }
    case 0x13: {
      DecodedInsn d = DecodeOpImm(raw);
      // addi x0, x0, 0 and friends: the canonical nop and hint space.
      if (d.op != Op::kIllegal && d.rd == kSinkRegister) d.op = Op::kNop;
      return d;
    }
    case 0x1b: return DecodeOpImm32(raw);
    case 0x33: return DecodeOp(raw);
    case 0x3b: return DecodeOp32(raw);
    case 0x2f: return DecodeAmo(raw);
    case 0x0f:
      // fence w,0 is Zihintpause's pause: a spin-wait hint, which the machine uses to let
      // other harts' threads run (Machine::SpinWait).
      if (raw == kPauseEncoding) return Make(Op::kPause, raw);
      if (f3 == 0) return Make(Op::kFence, raw);
      if (f3 == 1) return Make(Op::kFenceI, raw);
      return Illegal(raw);
    case 0x73: return DecodeSystem(raw);
  }
  return Illegal(raw);
}

bool EndsBlock(Op op) {
  switch (op) {
    case Op::kJal: case Op::kJalr:
    case Op::kBeq: case Op::kBne: case Op::kBlt: case Op::kBge: case Op::kBltu: case Op::kBgeu:
    case Op::kFenceI: case Op::kEcall: case Op::kEbreak: case Op::kMret: case Op::kWfi: case Op::kPause:
    case Op::kCsrrw: case Op::kCsrrs: case Op::kCsrrc: case Op::kCsrrwi: case Op::kCsrrsi: case Op::kCsrrci:
    case Op::kIllegal:
      return true;
    default:
      return false;
  }
}

const char* OpName(Op op) {
  static constexpr const char* kNames[] = {
#define RRKIT_EMU_OP_NAME(name) #name,
      RRKIT_EMU_OPS(RRKIT_EMU_OP_NAME)
#undef RRKIT_EMU_OP_NAME
  };
  const auto index = static_cast<size_t>(op);
  return index < sizeof(kNames) / sizeof(kNames[0]) ? kNames[index] : "?";
}

}  // namespace rrkit::emu
