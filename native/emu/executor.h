// Executes decoded blocks: the emulator's hot path.
#pragma once

#include <cstdint>

#include "emu/decoder.h"
#include "emu/hart.h"
#include "emu/memory.h"

namespace rrkit::emu {

enum class BlockExit {
  kContinue,  // pc and instret updated (a trap may have been taken)
  kWfi,       // a wfi retired: the hart should sleep until an interrupt is pending
  kFatal,     // an exception the guest cannot handle: hart.fatal_error() says which
};

// Executes instructions from `insns` (which ends with an Op::kBlockEnd sentinel), the
// first at `block_pc`, until the sentinel or the first instruction that leaves the block.
// Updates hart.pc and hart.instret exactly, also when an instruction traps.
// `Access` is the per-access permission policy (NoAccessCheck, or CREW later).
template <class Access>
BlockExit ExecuteBlock(Hart& hart, const DecodedInsn* insns, uint64_t block_pc);

}  // namespace rrkit::emu
