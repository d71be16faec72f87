// Every engine's ELF loader refuses loadable segments that overlap in guest memory: no
// linker writes them, and loaded in file order the later one would overwrite the earlier
// (code, typically), so the file is damaged or crafted.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace rrkit::machine {

struct SegmentExtent {
  uint32_t index;  // the program header's
  uint64_t start;  // guest-physical, end exclusive
  uint64_t end;
};

// Throws ImageError ("NAME: segments A (..) and B (..) overlap") for the first overlap.
void RefuseOverlappingSegments(std::vector<SegmentExtent> extents, const std::string& name);

}  // namespace rrkit::machine
