// Decoding of RV64IMA + Zicsr instructions into pre-extracted operands, done once per
// instruction when a block is built, so that execution never looks at encoding fields.
#pragma once

#include <cstdint>

namespace rrkit::emu {

// Every operation the executor implements, in one list: the executor's dispatch table is
// generated from it, so an op without a handler does not compile.
#define RRKIT_EMU_OPS(X)                                                                     \
  X(Lui) X(Auipc) X(Jal) X(Jalr)                                                             \
  X(Beq) X(Bne) X(Blt) X(Bge) X(Bltu) X(Bgeu)                                                \
  X(Lb) X(Lh) X(Lw) X(Ld) X(Lbu) X(Lhu) X(Lwu)                                               \
  X(Sb) X(Sh) X(Sw) X(Sd)                                                                    \
  X(Addi) X(Slti) X(Sltiu) X(Xori) X(Ori) X(Andi) X(Slli) X(Srli) X(Srai)                    \
  X(Add) X(Sub) X(Sll) X(Slt) X(Sltu) X(Xor) X(Srl) X(Sra) X(Or) X(And)                      \
  X(Addiw) X(Slliw) X(Srliw) X(Sraiw) X(Addw) X(Subw) X(Sllw) X(Srlw) X(Sraw)                \
  X(Mul) X(Mulh) X(Mulhsu) X(Mulhu) X(Div) X(Divu) X(Rem) X(Remu)                            \
  X(Mulw) X(Divw) X(Divuw) X(Remw) X(Remuw)                                                  \
  X(LrW) X(ScW) X(LrD) X(ScD)                                                                \
  X(AmoswapW) X(AmoaddW) X(AmoxorW) X(AmoandW) X(AmoorW)                                     \
  X(AmominW) X(AmomaxW) X(AmominuW) X(AmomaxuW)                                              \
  X(AmoswapD) X(AmoaddD) X(AmoxorD) X(AmoandD) X(AmoorD)                                     \
  X(AmominD) X(AmomaxD) X(AmominuD) X(AmomaxuD)                                              \
  X(Fence) X(Pause) X(FenceI) X(Ecall) X(Ebreak) X(Mret) X(Wfi)                                      \
  X(Csrrw) X(Csrrs) X(Csrrc) X(Csrrwi) X(Csrrsi) X(Csrrci)                                   \
  X(Nop) X(Illegal)                                                                          \
  X(BlockEnd)

enum class Op : uint8_t {
#define RRKIT_EMU_OP_ENUM(name) k##name,
  RRKIT_EMU_OPS(RRKIT_EMU_OP_ENUM)
#undef RRKIT_EMU_OP_ENUM
      kCount
};

// Index of the write-only sink register: writes to x0 are decoded as writes to it, so
// that handlers need no rd == 0 test. Register files have kRegisterSlots entries.
inline constexpr uint8_t kSinkRegister = 32;
inline constexpr int kRegisterSlots = 33;

// Zihintpause's pause (fence w,0): a spin-wait hint.
inline constexpr uint32_t kPauseEncoding = 0x0100000f;

struct DecodedInsn {
  Op op = Op::kIllegal;
  uint8_t rd = kSinkRegister;
  uint8_t rs1 = 0;
  uint8_t rs2 = 0;
  uint32_t raw = 0;  // the encoding, for error reports and mtval
  // The immediate, sign-extended; for pc-relative ops (auipc, jal, branches) the absolute
  // result (pc + offset), for CSR ops the CSR number (and rs1 holds the zimm).
  int64_t imm = 0;
};
static_assert(sizeof(DecodedInsn) == 16, "decoded instructions are meant to pack four to a cache line");

// Decodes one instruction at `pc`. Unknown encodings decode to Op::kIllegal (raised as an
// illegal-instruction exception only if executed).
DecodedInsn Decode(uint32_t raw, uint64_t pc);

// True for instructions after which a block must end: control transfers, and everything
// that can change interrupt enables, the instruction stream or the hart's run state.
bool EndsBlock(Op op);

const char* OpName(Op op);

}  // namespace rrkit::emu
