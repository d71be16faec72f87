// An x86_64 guest ELF as the board loads it (docs/platform.md): its loadable segments,
// entry, and the two symbols the VMM needs (`__boot_stack_top`, where the guest starts and
// takes interrupts, and `__image_end`, which guest RAM must reach). Errors are one line
// naming the file.
#pragma once

#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "elf/loadable_segments.h"

namespace rrkit::kvm {

using ElfError = elf::ElfError;

struct ElfImage {
  using Segment = elf::Segment;
  uint64_t entry = 0;
  uint64_t boot_stack_top = 0;
  uint64_t image_end = 0;
  // SMP (board.h): the harts' areas (`__hart_areas`) and where writable data starts
  // (`__writable_start`: below it, code and constants every hart may read from the start).
  // 0 for an image not built with the SMP runtime, which runs on one vCPU only.
  uint64_t hart_areas = 0;
  uint64_t writable_start = 0;
  std::vector<Segment> segments;
};

// `name` appears in errors only. Checks that the image fits RAM of `ram_bytes`, above the
// VMM's low memory.
ElfImage LoadX86Elf(std::span<const uint8_t> file, const std::string& name, uint64_t ram_bytes);

}  // namespace rrkit::kvm
