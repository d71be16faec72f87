#include "emu/block_cache.h"

#include "emu/memory.h"

namespace rrkit::emu {
namespace {

// What a spin loop may do: read memory and registers, compute, jump and branch.
bool ReadsOnly(Op op) {
  switch (op) {
    case Op::kSb: case Op::kSh: case Op::kSw: case Op::kSd:
    case Op::kLrW: case Op::kScW: case Op::kLrD: case Op::kScD:
    case Op::kAmoswapW: case Op::kAmoaddW: case Op::kAmoxorW: case Op::kAmoandW: case Op::kAmoorW:
    case Op::kAmominW: case Op::kAmomaxW: case Op::kAmominuW: case Op::kAmomaxuW:
    case Op::kAmoswapD: case Op::kAmoaddD: case Op::kAmoxorD: case Op::kAmoandD: case Op::kAmoorD:
    case Op::kAmominD: case Op::kAmomaxD: case Op::kAmominuD: case Op::kAmomaxuD:
    case Op::kPause: case Op::kFenceI: case Op::kEcall: case Op::kEbreak: case Op::kMret: case Op::kWfi:
    case Op::kCsrrw: case Op::kCsrrs: case Op::kCsrrc: case Op::kCsrrwi: case Op::kCsrrsi: case Op::kCsrrci:
    case Op::kIllegal: case Op::kBlockEnd: case Op::kCount:
      return false;
    default:
      return true;
  }
}

}  // namespace

Block& BlockCache::Miss(uint64_t pc, GuestRam& ram) {
  auto& owned = blocks_[pc];
  if (owned == nullptr) {
    auto block = std::make_unique<Block>();
    block->pc = pc;
    const uint64_t line_mask = (uint64_t{1} << GuestRam::kCodeLineShift) - 1;
    uint64_t at = pc;
    while (block->length < kMaxBlockLength && ram.Contains(at, 4)) {
      // Mark before reading, so that a store racing with the decode is seen as a code store.
      ram.MarkCode(at - ram.base(), 4);
      const uint32_t raw = LoadRelaxed<uint32_t>(ram.host() + (at - ram.base()));
      const DecodedInsn insn = Decode(raw, at);
      block->insns.push_back(insn);
      ++block->length;
      at += 4;
      if (EndsBlock(insn.op) || (at & line_mask) == 0) break;
    }
    block->reads_only = block->length > 0;
    for (const DecodedInsn& insn : block->insns) block->reads_only &= ReadsOnly(insn.op);
    DecodedInsn end;
    end.op = Op::kBlockEnd;
    block->insns.push_back(end);
    owned = std::move(block);
  }
  fast_[(pc >> 2) & (kFastSlots - 1)] = Slot{pc, owned.get()};
  return *owned;
}

void BlockCache::Clear() {
  for (size_t i = 0; i < kFastSlots; ++i) fast_[i] = Slot{};
  blocks_.clear();
}

}  // namespace rrkit::emu
