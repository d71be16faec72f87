// An image to boot: segments copied into RAM, and where every hart starts (elf_loader.h
// makes one from an ELF file).
#pragma once

#include <cstdint>
#include <vector>

#include "elf/loadable_segments.h"

namespace rrkit::emu {

struct BootImage {
  using Segment = elf::Segment;  // file bytes; the rest of memsz is zero already
  uint64_t entry = 0;
  std::vector<Segment> segments;
};

}  // namespace rrkit::emu
