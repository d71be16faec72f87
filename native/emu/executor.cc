// The interpreter: threaded dispatch (computed goto) over pre-decoded instructions.
//
// Counting: instructions in a block are not counted one by one. The index of the current
// instruction in the block is its offset from the block start, so every exit path
// (sentinel, branch, trap) adds exactly the number that retired.
#include "emu/executor.h"

#include <algorithm>
#include <atomic>

#include "emu/machine.h"

namespace rrkit::emu {
namespace {

struct Fault {
  Exception cause;
  uint64_t tval;
};

template <typename T>
constexpr uint64_t SignExtendWord(T value) {
  if constexpr (sizeof(T) == 4) return static_cast<uint64_t>(static_cast<int64_t>(static_cast<int32_t>(value)));
  else return static_cast<uint64_t>(value);
}

inline void AfterStore(Hart& hart, GuestRam& ram, uint64_t offset) {
  if (__builtin_expect(ram.IsCode(offset), 0)) hart.machine().CodeModified();
  ram.NoteStore(offset);
}

// Device accesses, out of line: the slow paths below are inlined at every load and store
// handler, and the bus call must not grow them (the handlers' layout is the hot path).
[[gnu::noinline]] bool BusLoad(Hart& hart, uint64_t addr, unsigned size, uint64_t count, uint64_t& value) {
  return hart.machine().board().bus().Load(hart.LandmarkAt(count), addr, size, value);
}

[[gnu::noinline]] bool BusStore(Hart& hart, uint64_t addr, unsigned size, uint64_t value, uint64_t count) {
  return hart.machine().board().bus().Store(hart.LandmarkAt(count), addr, size, value);
}

// Loads that are not plain aligned RAM: misaligned (trap), devices, or nothing there.
bool LoadSlow(Hart& hart, uint64_t addr, unsigned size, uint64_t count, uint64_t& value, Fault& fault) {
  if ((addr & (size - 1)) != 0) {
    fault = {Exception::kLoadMisaligned, addr};
    return false;
  }
  GuestRam& ram = hart.machine().ram();
  if (ram.Contains(addr, size)) {
    const uint8_t* p = ram.host() + (addr - ram.base());
    switch (size) {
      case 1: value = LoadRelaxed<uint8_t>(p); break;
      case 2: value = LoadRelaxed<uint16_t>(p); break;
      case 4: value = LoadRelaxed<uint32_t>(p); break;
      default: value = LoadRelaxed<uint64_t>(p); break;
    }
    return true;
  }
  if (BusLoad(hart, addr, size, count, value)) return true;
  fault = {Exception::kLoadAccessFault, addr};
  return false;
}

// Stores that are not plain aligned RAM. `leave` is set when the store changed what the
// hart must do next (the machine is stopping, an interrupt was raised).
bool StoreSlow(Hart& hart, uint64_t addr, unsigned size, uint64_t value, uint64_t count, Fault& fault, bool& leave) {
  if ((addr & (size - 1)) != 0) {
    fault = {Exception::kStoreMisaligned, addr};
    return false;
  }
  GuestRam& ram = hart.machine().ram();
  if (ram.Contains(addr, size)) {
    uint8_t* p = ram.host() + (addr - ram.base());
    switch (size) {
      case 1: StoreRelaxed<uint8_t>(p, static_cast<uint8_t>(value)); break;
      case 2: StoreRelaxed<uint16_t>(p, static_cast<uint16_t>(value)); break;
      case 4: StoreRelaxed<uint32_t>(p, static_cast<uint32_t>(value)); break;
      default: StoreRelaxed<uint64_t>(p, value); break;
    }
    AfterStore(hart, ram, addr - ram.base());
    return true;
  }
  if (BusStore(hart, addr, size, value, count)) {
    leave = hart.attention.load(std::memory_order_acquire) != 0;
    return true;
  }
  fault = {Exception::kStoreAccessFault, addr};
  return false;
}

// Address of an atomic access, or a fault: AMOs need natural alignment and RAM.
template <typename T>
uint8_t* AtomicAddress(Hart& hart, uint64_t addr, bool is_load, Fault& fault) {
  if ((addr & (sizeof(T) - 1)) != 0) {
    fault = {is_load ? Exception::kLoadMisaligned : Exception::kStoreMisaligned, addr};
    return nullptr;
  }
  GuestRam& ram = hart.machine().ram();
  if (!ram.Contains(addr, sizeof(T))) {
    fault = {is_load ? Exception::kLoadAccessFault : Exception::kStoreAccessFault, addr};
    return nullptr;
  }
  return ram.host() + (addr - ram.base());
}

template <typename T, typename Combine>
T FetchCombine(T* p, T operand, Combine combine) {
  T old = __atomic_load_n(p, __ATOMIC_RELAXED);
  while (!__atomic_compare_exchange_n(p, &old, combine(old, operand), true, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED)) {
  }
  return old;
}

// AMOs are host atomics, sequentially consistent whatever aq/rl say (stronger is allowed).
template <typename T>
bool Amo(Hart& hart, const DecodedInsn& insn, Fault& fault) {
  using S = std::make_signed_t<T>;
  uint8_t* bytes = AtomicAddress<T>(hart, hart.x[insn.rs1], false, fault);
  if (bytes == nullptr) return false;
  T* p = reinterpret_cast<T*>(bytes);
  const T src = static_cast<T>(hart.x[insn.rs2]);
  T old;
  switch (insn.op) {
    case Op::kAmoswapW: case Op::kAmoswapD: old = __atomic_exchange_n(p, src, __ATOMIC_SEQ_CST); break;
    case Op::kAmoaddW: case Op::kAmoaddD: old = __atomic_fetch_add(p, src, __ATOMIC_SEQ_CST); break;
    case Op::kAmoxorW: case Op::kAmoxorD: old = __atomic_fetch_xor(p, src, __ATOMIC_SEQ_CST); break;
    case Op::kAmoandW: case Op::kAmoandD: old = __atomic_fetch_and(p, src, __ATOMIC_SEQ_CST); break;
    case Op::kAmoorW: case Op::kAmoorD: old = __atomic_fetch_or(p, src, __ATOMIC_SEQ_CST); break;
    case Op::kAmominW: case Op::kAmominD:
      old = FetchCombine<T>(p, src, [](T a, T b) { return static_cast<S>(a) < static_cast<S>(b) ? a : b; });
      break;
    case Op::kAmomaxW: case Op::kAmomaxD:
      old = FetchCombine<T>(p, src, [](T a, T b) { return static_cast<S>(a) > static_cast<S>(b) ? a : b; });
      break;
    case Op::kAmominuW: case Op::kAmominuD: old = FetchCombine<T>(p, src, [](T a, T b) { return a < b ? a : b; }); break;
    default: old = FetchCombine<T>(p, src, [](T a, T b) { return a > b ? a : b; }); break;
  }
  GuestRam& ram = hart.machine().ram();
  AfterStore(hart, ram, static_cast<uint64_t>(bytes - ram.host()));
  hart.x[insn.rd] = SignExtendWord(old);
  return true;
}

// The spin probe is back where it began: every register as it was then?
bool SameRegisters(const Hart& hart) {
  return std::equal(hart.spin_snapshot.begin() + 1, hart.spin_snapshot.end(), hart.x.begin() + 1);
}

void DropReservation(Hart& hart) {
  if (!hart.reservation.has_value()) return;
  hart.reservation.reset();
  hart.machine().ram().reservations_held().fetch_sub(1, std::memory_order_acq_rel);
}

template <typename T>
bool LoadReserved(Hart& hart, const DecodedInsn& insn, Fault& fault) {
  uint8_t* bytes = AtomicAddress<T>(hart, hart.x[insn.rs1], true, fault);
  if (bytes == nullptr) return false;
  GuestRam& ram = hart.machine().ram();
  const uint64_t offset = static_cast<uint64_t>(bytes - ram.host());
  if (!hart.reservation.has_value()) ram.reservations_held().fetch_add(1, std::memory_order_seq_cst);
  const uint64_t version = ram.ReservationVersion(offset).load(std::memory_order_seq_cst);
  const T value = __atomic_load_n(reinterpret_cast<T*>(bytes), __ATOMIC_SEQ_CST);
  hart.reservation = Hart::Reservation{offset, static_cast<uint64_t>(value), version, sizeof(T) == 8};
  hart.x[insn.rd] = SignExtendWord(value);
  return true;
}

// SC: succeeds when this hart holds a reservation for the address, no store to it has
// been seen since the LR (version), and the value is still the one the LR read (CAS).
// The outcome is a world value: failures are logged, and replay repeats them.
template <typename T>
bool StoreConditional(Hart& hart, const DecodedInsn& insn, uint64_t count, Fault& fault) {
  uint8_t* bytes = AtomicAddress<T>(hart, hart.x[insn.rs1], false, fault);
  if (bytes == nullptr) return false;
  GuestRam& ram = hart.machine().ram();
  const uint64_t offset = static_cast<uint64_t>(bytes - ram.host());
  T* p = reinterpret_cast<T*>(bytes);
  const T src = static_cast<T>(hart.x[insn.rs2]);
  bool attempted = false;
  auto live = [&]() -> uint64_t {
    attempted = true;
    const auto& r = hart.reservation;
    if (!r.has_value() || r->offset != offset || r->doubleword != (sizeof(T) == 8)) return 1;
    if (ram.ReservationVersion(offset).load(std::memory_order_seq_cst) != r->version) return 1;
    T expected = static_cast<T>(r->value);
    if (!__atomic_compare_exchange_n(p, &expected, src, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) return 1;
    return 0;
  };
  const uint64_t failed =
      hart.machine().world().RareOutcome(hart.LandmarkAt(count), replay::InputKind::kStoreConditional, 0, live);
  // A replaying world decides without trying: perform the store it says succeeded.
  if (!attempted && failed == 0) __atomic_store_n(p, src, __ATOMIC_SEQ_CST);
  if (failed == 0) AfterStore(hart, ram, offset);
  DropReservation(hart);
  hart.x[insn.rd] = failed != 0 ? 1 : 0;
  return true;
}

}  // namespace

template <class Policy, bool kSpinProbe>
BlockExit ExecuteBlocks(Hart& hart, const Policy& policy, Block& first, const DecodedInsn* first_insns, uint64_t limit) {
  static const void* const kHandlers[] = {
#define RRKIT_EMU_OP_LABEL(name) &&op_##name,
      RRKIT_EMU_OPS(RRKIT_EMU_OP_LABEL)
#undef RRKIT_EMU_OP_LABEL
  };
  static_assert(sizeof(kHandlers) / sizeof(kHandlers[0]) == static_cast<size_t>(Op::kCount));

  uint64_t* const x = hart.x.data();
  GuestRam& ram = hart.machine().ram();
  uint8_t* const host = ram.host();
  const uint64_t ram_size = ram.size();
  Block* block = &first;
  uint64_t block_pc = first.pc;
  const DecodedInsn* insns = first_insns;
  const DecodedInsn* insn = insns;
  Block** successor = nullptr;  // where the block being left keeps the next one
  uint64_t next_pc = 0;
  Fault fault{};
  uint64_t loaded = 0;
  bool leave = false;

#define INDEX() static_cast<uint64_t>(insn - insns)
#define PC() (block_pc + 4 * INDEX())
#define COUNT() (hart.instret + INDEX())
#define DISPATCH() goto* kHandlers[static_cast<uint8_t>(insn->op)]
#define NEXT()  \
  do {          \
    ++insn;     \
    DISPATCH(); \
  } while (0)
#define RS1 x[insn->rs1]
#define RS2 x[insn->rs2]
#define RD x[insn->rd]
#define IMM insn->imm
#define UIMM static_cast<uint64_t>(insn->imm)
// A taken branch to a target that is not 4-byte aligned (no C extension) traps on the
// branch itself, as jal and jalr do; a branch not taken never does.
#define BRANCH(cond)                                                       \
  do {                                                                     \
    if (cond) {                                                            \
      next_pc = UIMM;                                                      \
      if (next_pc & 3) FAIL(Exception::kInstructionMisaligned, next_pc);   \
      goto jump;                                                           \
    }                                                                      \
    goto fall_through;                                                     \
  } while (0)
#define FAIL(cause, tval)      \
  do {                         \
    fault = {cause, tval};     \
    goto trap;                 \
  } while (0)
#define LOAD(T, Cast)                                                                               \
  do {                                                                                              \
    const uint64_t addr = RS1 + UIMM;                                                               \
    const uint64_t off = addr - kRamBase;                                                           \
    if (__builtin_expect(off < ram_size && (addr & (sizeof(T) - 1)) == 0 && policy.MayRead(off), 1)) { \
      RD = static_cast<uint64_t>(static_cast<Cast>(LoadRelaxed<T>(host + off)));                    \
    } else {                                                                                        \
      if (policy.Refuses(addr, sizeof(T), false)) goto ownership_fault;                             \
      if (!LoadSlow(hart, addr, sizeof(T), COUNT(), loaded, fault)) goto trap;                      \
      RD = static_cast<uint64_t>(static_cast<Cast>(static_cast<T>(loaded)));                        \
    }                                                                                               \
    NEXT();                                                                                         \
  } while (0)
#define STORE(T)                                                                                    \
  do {                                                                                              \
    const uint64_t addr = RS1 + UIMM;                                                               \
    const uint64_t off = addr - kRamBase;                                                           \
    if (__builtin_expect(off < ram_size && (addr & (sizeof(T) - 1)) == 0 && policy.MayWrite(off), 1)) { \
      StoreRelaxed<T>(host + off, static_cast<T>(RS2));                                             \
      AfterStore(hart, ram, off);                                                                   \
    } else {                                                                                        \
      if (policy.Refuses(addr, sizeof(T), true)) goto ownership_fault;                              \
      if (!StoreSlow(hart, addr, sizeof(T), RS2, COUNT(), fault, leave)) goto trap;                 \
      if (leave) goto leave_after;                                                                  \
    }                                                                                               \
    NEXT();                                                                                         \
  } while (0)
#define W(expr) static_cast<uint64_t>(static_cast<int64_t>(static_cast<int32_t>(expr)))

  DISPATCH();

op_Lui: RD = UIMM; NEXT();
op_Auipc: RD = UIMM; NEXT();
op_Jal:
  next_pc = UIMM;
  if (next_pc & 3) FAIL(Exception::kInstructionMisaligned, next_pc);
  RD = PC() + 4;
  goto jump;
op_Jalr:
  next_pc = (RS1 + UIMM) & ~uint64_t{1};
  if (next_pc & 3) FAIL(Exception::kInstructionMisaligned, next_pc);
  RD = PC() + 4;
  goto jump;
op_Beq: BRANCH(RS1 == RS2);
op_Bne: BRANCH(RS1 != RS2);
op_Blt: BRANCH(static_cast<int64_t>(RS1) < static_cast<int64_t>(RS2));
op_Bge: BRANCH(static_cast<int64_t>(RS1) >= static_cast<int64_t>(RS2));
op_Bltu: BRANCH(RS1 < RS2);
op_Bgeu: BRANCH(RS1 >= RS2);
op_Lb: LOAD(uint8_t, int8_t);
op_Lh: LOAD(uint16_t, int16_t);
op_Lw: LOAD(uint32_t, int32_t);
op_Ld: LOAD(uint64_t, uint64_t);
op_Lbu: LOAD(uint8_t, uint8_t);
op_Lhu: LOAD(uint16_t, uint16_t);
op_Lwu: LOAD(uint32_t, uint32_t);
op_Sb: STORE(uint8_t);
op_Sh: STORE(uint16_t);
op_Sw: STORE(uint32_t);
op_Sd: STORE(uint64_t);
op_Addi: RD = RS1 + UIMM; NEXT();
op_Slti: RD = static_cast<int64_t>(RS1) < IMM; NEXT();
op_Sltiu: RD = RS1 < UIMM; NEXT();
op_Xori: RD = RS1 ^ UIMM; NEXT();
op_Ori: RD = RS1 | UIMM; NEXT();
op_Andi: RD = RS1 & UIMM; NEXT();
op_Slli: RD = RS1 << IMM; NEXT();
op_Srli: RD = RS1 >> IMM; NEXT();
op_Srai: RD = static_cast<uint64_t>(static_cast<int64_t>(RS1) >> IMM); NEXT();
op_Add: RD = RS1 + RS2; NEXT();
op_Sub: RD = RS1 - RS2; NEXT();
op_Sll: RD = RS1 << (RS2 & 63); NEXT();
op_Slt: RD = static_cast<int64_t>(RS1) < static_cast<int64_t>(RS2); NEXT();
op_Sltu: RD = RS1 < RS2; NEXT();
op_Xor: RD = RS1 ^ RS2; NEXT();
op_Srl: RD = RS1 >> (RS2 & 63); NEXT();
op_Sra: RD = static_cast<uint64_t>(static_cast<int64_t>(RS1) >> (RS2 & 63)); NEXT();
op_Or: RD = RS1 | RS2; NEXT();
op_And: RD = RS1 & RS2; NEXT();
op_Addiw: RD = W(RS1 + UIMM); NEXT();
op_Slliw: RD = W(static_cast<uint32_t>(RS1) << IMM); NEXT();
op_Srliw: RD = W(static_cast<uint32_t>(RS1) >> IMM); NEXT();
op_Sraiw: RD = W(static_cast<int32_t>(RS1) >> IMM); NEXT();
op_Addw: RD = W(RS1 + RS2); NEXT();
op_Subw: RD = W(RS1 - RS2); NEXT();
op_Sllw: RD = W(static_cast<uint32_t>(RS1) << (RS2 & 31)); NEXT();
op_Srlw: RD = W(static_cast<uint32_t>(RS1) >> (RS2 & 31)); NEXT();
op_Sraw: RD = W(static_cast<int32_t>(RS1) >> (RS2 & 31)); NEXT();
op_Mul: RD = RS1 * RS2; NEXT();
op_Mulh:
  RD = static_cast<uint64_t>((static_cast<__int128>(static_cast<int64_t>(RS1)) * static_cast<int64_t>(RS2)) >> 64);
  NEXT();
op_Mulhsu:
  RD = static_cast<uint64_t>((static_cast<__int128>(static_cast<int64_t>(RS1)) * static_cast<__int128>(RS2)) >> 64);
  NEXT();
op_Mulhu:
  RD = static_cast<uint64_t>((static_cast<unsigned __int128>(RS1) * RS2) >> 64);
  NEXT();
op_Div: {
  const auto a = static_cast<int64_t>(RS1), b = static_cast<int64_t>(RS2);
  // Division by zero gives all ones; the one overflowing case gives the dividend.
  RD = b == 0 ? ~uint64_t{0} : (a == INT64_MIN && b == -1) ? static_cast<uint64_t>(a) : static_cast<uint64_t>(a / b);
  NEXT();
}
op_Divu: RD = RS2 == 0 ? ~uint64_t{0} : RS1 / RS2; NEXT();
op_Rem: {
  const auto a = static_cast<int64_t>(RS1), b = static_cast<int64_t>(RS2);
  RD = b == 0 ? static_cast<uint64_t>(a) : (a == INT64_MIN && b == -1) ? 0 : static_cast<uint64_t>(a % b);
  NEXT();
}
op_Remu: RD = RS2 == 0 ? RS1 : RS1 % RS2; NEXT();
op_Mulw: RD = W(RS1 * RS2); NEXT();
op_Divw: {
  const auto a = static_cast<int32_t>(RS1), b = static_cast<int32_t>(RS2);
  RD = b == 0 ? ~uint64_t{0} : (a == INT32_MIN && b == -1) ? W(a) : W(a / b);
  NEXT();
}
op_Divuw: {
  const auto a = static_cast<uint32_t>(RS1), b = static_cast<uint32_t>(RS2);
  RD = b == 0 ? ~uint64_t{0} : W(a / b);
  NEXT();
}
op_Remw: {
  const auto a = static_cast<int32_t>(RS1), b = static_cast<int32_t>(RS2);
  RD = b == 0 ? W(a) : (a == INT32_MIN && b == -1) ? 0 : W(a % b);
  NEXT();
}
op_Remuw: {
  const auto a = static_cast<uint32_t>(RS1), b = static_cast<uint32_t>(RS2);
  RD = b == 0 ? W(a) : W(a % b);
  NEXT();
}
// Atomics and LR/SC count as writes for CREW (an LR announces a write).
#define CHECK_ATOMIC(T) \
  if (policy.Refuses(RS1, sizeof(T), true)) goto ownership_fault
op_LrW: CHECK_ATOMIC(uint32_t); if (!LoadReserved<uint32_t>(hart, *insn, fault)) goto trap; NEXT();
op_LrD: CHECK_ATOMIC(uint64_t); if (!LoadReserved<uint64_t>(hart, *insn, fault)) goto trap; NEXT();
op_ScW: CHECK_ATOMIC(uint32_t); if (!StoreConditional<uint32_t>(hart, *insn, COUNT(), fault)) goto trap; NEXT();
op_ScD: CHECK_ATOMIC(uint64_t); if (!StoreConditional<uint64_t>(hart, *insn, COUNT(), fault)) goto trap; NEXT();
op_AmoswapW: op_AmoaddW: op_AmoxorW: op_AmoandW: op_AmoorW:
op_AmominW: op_AmomaxW: op_AmominuW: op_AmomaxuW:
  CHECK_ATOMIC(uint32_t);
  if (!Amo<uint32_t>(hart, *insn, fault)) goto trap;
  NEXT();
op_AmoswapD: op_AmoaddD: op_AmoxorD: op_AmoandD: op_AmoorD:
op_AmominD: op_AmomaxD: op_AmominuD: op_AmomaxuD:
  CHECK_ATOMIC(uint64_t);
  if (!Amo<uint64_t>(hart, *insn, fault)) goto trap;
  NEXT();
op_Fence: std::atomic_thread_fence(std::memory_order_seq_cst); NEXT();
op_FenceI:
  // This hart's later fetches must see its earlier stores: drop decoded code now.
  hart.attention.fetch_or(kAttentionFlushCode, std::memory_order_relaxed);
  goto leave_after;
op_Ecall: FAIL(Exception::kEcallFromM, 0);
op_Ebreak: FAIL(Exception::kBreakpoint, PC());
op_Mret:
  hart.instret += INDEX() + 1;
  hart.Mret();
  return BlockExit::kContinue;
op_Wfi:
  hart.instret += INDEX() + 1;
  hart.pc = PC() + 4;
  return BlockExit::kWfi;
op_Pause:
  hart.instret += INDEX() + 1;
  hart.pc = PC() + 4;
  return BlockExit::kPause;
op_Csrrw: op_Csrrs: op_Csrrc: op_Csrrwi: op_Csrrsi: op_Csrrci:
  if (!hart.ExecuteCsr(*insn, COUNT())) FAIL(Exception::kIllegalInstruction, insn->raw);
  goto leave_after;
op_Nop: NEXT();
op_Illegal: FAIL(Exception::kIllegalInstruction, insn->raw);

op_BlockEnd:
  hart.instret += INDEX();
  next_pc = PC();
  successor = &block->fallthrough;
  goto chain;

fall_through:
  hart.instret += INDEX() + 1;
  next_pc = PC() + 4;
  successor = &block->fallthrough;
  goto chain;

jump:
  hart.instret += INDEX() + 1;
  successor = &block->taken;
  goto chain;

leave_after:
  hart.instret += INDEX() + 1;
  hart.pc = PC() + 4;
  return BlockExit::kContinue;

// Between blocks: the one place that looks at attention and the instruction limit.
chain: {
  hart.pc = next_pc;
  policy.AtBlockBoundary(hart.instret);
  if (__builtin_expect(hart.attention.load(std::memory_order_relaxed) != 0 || hart.instret >= limit, 0))
    return BlockExit::kContinue;
  Block* next = *successor;
  if (__builtin_expect(next == nullptr || next->pc != next_pc, 0)) {
    // Misaligned targets and fetches outside RAM trap in the machine, not here.
    if ((next_pc & 3) != 0 || !ram.Contains(next_pc, 4)) return BlockExit::kContinue;
    next = &hart.blocks.Get(next_pc, ram);
    *successor = next;
  }
  if constexpr (kSpinProbe) {
    if (!next->reads_only) {
      hart.spin_head = Hart::kNoSpinMark;  // it writes: a spin, if any, begins after this block
    } else if (next_pc == hart.spin_head && SameRegisters(hart)) {
      // Back at the mark, storing nothing on the way, every register as it was: the hart
      // loads the same and does the same again, until another hart changes memory.
      hart.spin_seen = true;
      return BlockExit::kPause;
    } else if (hart.spin_head == Hart::kNoSpinMark || ++hart.spin_steps == hart.spin_next_move) {
      // The mark moves on at doubling distances, so that it lands inside any loop however
      // the hart entered it (from a block before the loop, mid-block, through an inner loop).
      hart.spin_next_move = hart.spin_head == Hart::kNoSpinMark ? 1 : 2 * hart.spin_next_move;
      hart.spin_head = next_pc;
      std::copy(hart.x.begin(), hart.x.begin() + 32, hart.spin_snapshot.begin());
      hart.spin_steps = 0;
    }
  }
  if (limit - hart.instret < next->length) return BlockExit::kContinue;
  block = next;
  block_pc = next_pc;
  insns = next->insns.data();
  insn = insns;
  DISPATCH();
}

ownership_fault:
  hart.pc = PC();
  hart.instret += INDEX();
  return BlockExit::kOwnershipFault;

trap: {
  const uint32_t raw = insn->raw;
  hart.pc = PC();
  hart.instret += INDEX();
  return hart.TakeException(fault.cause, fault.tval, raw) ? BlockExit::kContinue : BlockExit::kFatal;
}

#undef INDEX
#undef PC
#undef COUNT
#undef DISPATCH
#undef NEXT
#undef RS1
#undef RS2
#undef RD
#undef IMM
#undef UIMM
#undef BRANCH
#undef FAIL
#undef LOAD
#undef STORE
#undef W
#undef CHECK_ATOMIC
}

template BlockExit ExecuteBlocks<NoAccessCheck, false>(Hart&, const NoAccessCheck&, Block&, const DecodedInsn*, uint64_t);
template BlockExit ExecuteBlocks<CrewAccessCheck, false>(Hart&, const CrewAccessCheck&, Block&, const DecodedInsn*, uint64_t);
template BlockExit ExecuteBlocks<GatePublish, false>(Hart&, const GatePublish&, Block&, const DecodedInsn*, uint64_t);
template BlockExit ExecuteBlocks<NoAccessCheck, true>(Hart&, const NoAccessCheck&, Block&, const DecodedInsn*, uint64_t);
template BlockExit ExecuteBlocks<CrewAccessCheck, true>(Hart&, const CrewAccessCheck&, Block&, const DecodedInsn*, uint64_t);
template BlockExit ExecuteBlocks<GatePublish, true>(Hart&, const GatePublish&, Block&, const DecodedInsn*, uint64_t);

}  // namespace rrkit::emu
