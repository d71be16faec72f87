// An image to boot: segments copied into RAM, and where every hart starts (elf_loader.h
// makes one from an ELF file).
#pragma once

#include <cstdint>
#include <vector>

namespace rrkit::emu {

struct BootImage {
  struct Segment {
    uint64_t addr;
    std::vector<uint8_t> bytes;  // file bytes; the rest of memsz is zero already
  };
  uint64_t entry = 0;
  std::vector<Segment> segments;
};

}  // namespace rrkit::emu
