// One RISC-V hart's architectural state (integer registers, pc, machine-mode CSRs), its
// retired-instruction count, and the privileged-architecture operations on that state:
// CSR access, trap entry, mret. Execution lives in executor.h; scheduling in run_loop.cc.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <optional>
#include <string>

#include "emu/block_cache.h"
#include "emu/decoder.h"
#include "replay/world.h"

namespace rrkit::emu {

class Machine;

// Exception causes (mcause, interrupt bit clear).
enum class Exception : uint64_t {
  kInstructionMisaligned = 0,
  kInstructionAccessFault = 1,
  kIllegalInstruction = 2,
  kBreakpoint = 3,
  kLoadMisaligned = 4,
  kLoadAccessFault = 5,
  kStoreMisaligned = 6,
  kStoreAccessFault = 7,
  kEcallFromM = 11,
};
const char* ExceptionName(Exception cause);

// Interrupt numbers (mcause with bit 63 set; bit positions in mip/mie).
inline constexpr uint64_t kInterruptSoftware = 3;
inline constexpr uint64_t kInterruptTimer = 7;
inline constexpr uint64_t kInterruptExternal = 11;
inline constexpr uint64_t kMipMsip = uint64_t{1} << kInterruptSoftware;
inline constexpr uint64_t kMipMtip = uint64_t{1} << kInterruptTimer;
inline constexpr uint64_t kMipMeip = uint64_t{1} << kInterruptExternal;
inline constexpr uint64_t kMcauseInterrupt = uint64_t{1} << 63;

inline constexpr uint64_t kMstatusMie = uint64_t{1} << 3;
inline constexpr uint64_t kMstatusMpie = uint64_t{1} << 7;
inline constexpr uint64_t kMstatusMpp = uint64_t{3} << 11;  // always M: there is no other mode

// Bits of a hart's attention word: the one thing the run loop checks between blocks.
// Set by other threads (timer, other harts, the machine) to make the hart look up.
enum Attention : uint32_t {
  kAttentionInterrupt = 1u << 0,  // re-evaluate pending interrupts
  kAttentionPause = 1u << 1,      // join a consistent cut (checkpoint)
  kAttentionStop = 1u << 2,       // the machine is stopping
  kAttentionFlushCode = 1u << 3,  // decoded code may be stale
  kAttentionCrew = 1u << 4,       // SMP record: another hart waits for a page this one holds
  kAttentionPublish = 1u << 5,    // publish the retired count for progress reports
  kAttentionSample = 1u << 6,     // log a host-time sample (record --wall-samples)
  kAttentionSerial = 1u << 7,     // SMP record: stop to join a serialized group
  kAttentionGate = 1u << 8,       // SMP replay: another hart now waits for this one's count
  kAttentionImageCut = 1u << 9,   // hart 0, live: start a cut now, a state image waits for one
};

// Cache-line aligned: each hart runs on its own thread, and its registers, pc, count and
// attention word (what every instruction or block touches) must not share a line with
// another hart's.
class alignas(64) Hart {
 public:
  Hart(uint32_t id, Machine& machine) : id_(id), machine_(machine) {}

  uint32_t id() const { return id_; }
  Machine& machine() { return machine_; }

  // --- architectural state (public: the executor is the hot path) -----------------------
  std::array<uint64_t, kRegisterSlots> x{};  // x[0] stays 0; x[kSinkRegister] takes writes to x0
  uint64_t pc = 0;
  uint64_t instret = 0;  // retired instructions: the landmark count
  uint64_t mstatus = kMstatusMpp;
  uint64_t mie = 0;
  uint64_t mtvec = 0;
  uint64_t mscratch = 0;
  uint64_t mepc = 0;
  uint64_t mcause = 0;
  uint64_t mtval = 0;
  // minstret and mcycle are guest-writable; the landmark count is not, so writes move these.
  uint64_t minstret_offset = 0;
  uint64_t mcycle_offset = 0;

  std::atomic<uint32_t> attention{0};
  BlockCache blocks;
  // The spin probe (executor.h): the mark it may come back to (a block's pc and the
  // registers on entering it; kNoSpinMark after a block that writes), and when the mark
  // moves on to where the hart is then (after 1, 2, 4, ... block boundaries since it was
  // set afresh: Brent's cycle detection).
  static constexpr uint64_t kNoSpinMark = 1;  // no block starts at an odd pc
  uint64_t spin_head = kNoSpinMark;
  std::array<uint64_t, 32> spin_snapshot{};
  uint32_t spin_steps = 0;
  uint32_t spin_next_move = 1;
  bool spin_seen = false;  // the probe's last kPause was a spin it saw, not a pause that retired

  // LR reservation (see GuestRam for how stores break it).
  struct Reservation {
    uint64_t offset;
    uint64_t value;
    uint64_t version;
    bool doubleword;
  };
  std::optional<Reservation> reservation;

  replay::Landmark LandmarkAt(uint64_t count) const { return {id_, count}; }

  // From another thread: sets `bits` and runs the hart if it waits (Machine::HartAttention).
  void RaiseAttention(uint32_t bits);
  // From the hart's own thread.
  void NoteAttention(uint32_t bits) { attention.fetch_or(bits, std::memory_order_relaxed); }

  // Executes a CSR instruction retiring at landmark `count`. False: illegal instruction.
  bool ExecuteCsr(const DecodedInsn& insn, uint64_t count);
  void Mret();

  // Trap entry for an exception at `pc` (instret = the faulting instruction's landmark).
  // False when the guest cannot handle it (no trap vector, a trap loop): the machine must
  // stop; fatal_error() then says why.
  bool TakeException(Exception cause, uint64_t tval, uint32_t raw_instruction);
  void TakeInterrupt(uint64_t cause);

  // Pending interrupts as the hardware sees them now (live: CLINT and host time).
  uint64_t LivePendingInterrupts();

  uint64_t RegisterHash() const;
  const std::string& fatal_error() const { return fatal_error_; }

  // A state image (emu/state_image.h) keeps where the last exception was taken, so that a
  // restored hart tells a trap loop as the original would.
  std::optional<uint64_t> last_exception_at() const { return last_exception_at_; }
  void RestoreLastException(std::optional<uint64_t> at) { last_exception_at_ = at; }

 private:
  std::optional<uint64_t> ReadCsr(uint32_t csr, uint64_t count);
  bool WriteCsr(uint32_t csr, uint64_t value, uint64_t count);

  uint32_t id_;
  Machine& machine_;
  std::string fatal_error_;
  // Landmark of the last exception, to tell a trap loop (an exception before any
  // instruction of the handler retired) from a guest that handles its traps.
  std::optional<uint64_t> last_exception_at_;
};

}  // namespace rrkit::emu
