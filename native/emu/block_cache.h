// A hart's decoded blocks: straight-line runs of instructions, each decoded once, ending
// at a control transfer, a system instruction, a 256-byte code line boundary or
// kMaxBlockLength. Each block's instruction array ends with an Op::kBlockEnd sentinel,
// so that the executor needs no per-instruction bounds test.
//
// Owned by one hart and touched only by its thread: no locking.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "emu/decoder.h"

namespace rrkit::emu {

class GuestRam;

struct Block {
  uint64_t pc = 0;
  uint32_t length = 0;             // instructions, not counting the sentinel
  // Chaining: the block that ran after this one, per way of leaving it (a taken branch or
  // jump; falling through). The executor checks a successor's pc before it follows it, so
  // that a jalr's changing target is only a miss. Blocks are freed only all at once
  // (BlockCache::Clear), so these pointers never dangle.
  Block* taken = nullptr;
  Block* fallthrough = nullptr;
  std::vector<DecodedInsn> insns;  // length + 1 entries
  // Only loads, arithmetic, fences, jumps and branches: no store, atomic or system
  // instruction. A loop of such blocks that comes round with the same registers does the
  // same again until another hart changes memory: it spins (the executor's spin probe).
  bool reads_only = false;
};

class BlockCache {
 public:
  static constexpr uint32_t kMaxBlockLength = 64;

  // The block starting at `pc`, decoding it on a miss. `pc` must be 4-aligned and its
  // first instruction inside RAM (the caller raises the fetch exception otherwise).
  Block& Get(uint64_t pc, GuestRam& ram) {
    Slot& slot = fast_[(pc >> 2) & (kFastSlots - 1)];
    if (slot.pc == pc && slot.block != nullptr) return *slot.block;
    return Miss(pc, ram);
  }

  void Clear();
  size_t size() const { return blocks_.size(); }

 private:
  static constexpr size_t kFastSlots = 1 << 14;
  struct Slot {
    uint64_t pc = 0;
    Block* block = nullptr;
  };

  Block& Miss(uint64_t pc, GuestRam& ram);

  std::unique_ptr<Slot[]> fast_ = std::make_unique<Slot[]>(kFastSlots);
  std::unordered_map<uint64_t, std::unique_ptr<Block>> blocks_;
};

}  // namespace rrkit::emu
