// Executes decoded blocks: the emulator's hot path.
#pragma once

#include <cstdint>

#include "emu/access_policy.h"
#include "emu/decoder.h"
#include "emu/hart.h"
#include "emu/memory.h"

namespace rrkit::emu {

enum class BlockExit {
  kContinue,  // pc and instret updated (a trap may have been taken)
  kWfi,       // a wfi retired: the hart should sleep until an interrupt is pending
  kPause,     // a pause (spin-wait hint) retired, or the spin probe saw the hart spin: it
              // may let others run first
  kFatal,     // an exception the guest cannot handle: hart.fatal_error() says which
  // The policy refused an access (SMP record: a CREW ownership fault). pc and instret are
  // those of the refused instruction, which has had no effect; acquire, then run it again.
  kOwnershipFault,
};

// Executes `block` from its start, running `insns` (the block's own instructions, or a
// prefix of them ending with an Op::kBlockEnd sentinel), then chains to the blocks that
// follow without returning, as long as each next block fits entirely below instret
// `limit`, nothing has raised the hart's attention, and the next instruction needs no
// help from the machine (CSRs, wfi, traps, a block not decoded yet outside RAM).
// Updates hart.pc and hart.instret exactly, also when an instruction traps; never runs
// past `limit`.
// `policy` checks accesses and acts at block boundaries (access_policy.h).
//
// kSpinProbe: the run loop samples now and then whether the hart spins: from a block that
// only reads, it runs this variant for up to a thousand instructions. The probe keeps a
// mark (Hart::spin_head, spin_snapshot: a block's pc and the registers on entering it),
// moved on to the current block after 1, 2, 4, ... block boundaries (Brent's cycle
// detection), so that it falls inside the loop wherever the hart entered it. If the hart
// comes back to the mark through blocks that only read, with every register as it was,
// each round does the same again until another hart changes memory: it returns kPause, as
// for a spin-wait hint. It stops probing (kContinue) at the first block that writes.
// Detection changes only timing.
template <class Policy, bool kSpinProbe = false>
BlockExit ExecuteBlocks(Hart& hart, const Policy& policy, Block& block, const DecodedInsn* insns, uint64_t limit);

}  // namespace rrkit::emu
