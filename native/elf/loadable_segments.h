// The loadable segments of a 64-bit ELF, checked as every engine's loader checks them: each
// inside the file, no larger in the file than in memory, inside the guest RAM the engine
// allows, none overlapping another, and at least one. Engine-neutral: the engine says where
// its RAM is; the ELF header's own checks (class, machine, type) stay with the engine.
#pragma once

#include <elf.h>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "machine/image_error.h"

namespace rrkit::elf {

// An ELF the engine cannot load; what() is one line that starts with the file's name.
class ElfError : public machine::ImageError {
 public:
  using machine::ImageError::ImageError;
};

struct Segment {
  uint64_t address = 0;        // guest-physical (p_paddr)
  std::vector<uint8_t> bytes;  // the file's bytes; the rest of the segment (up to p_memsz) is zero
};

// Where segments may lie: guest-physical [start, end), and how errors name that range.
struct LoadRange {
  uint64_t start = 0;
  uint64_t end = 0;
  std::string description;  // "RAM 0x80000000..0x88000000"
};

// `header` is the file's, its program headers already known to lie inside `file`; `name`
// starts every error (a path). Throws ElfError, or machine::ImageError for an overlap.
std::vector<Segment> LoadableSegments(std::span<const uint8_t> file, const Elf64_Ehdr& header, const LoadRange& ram,
                                      const std::string& name);

}  // namespace rrkit::elf
