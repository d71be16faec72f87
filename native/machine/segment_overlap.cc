#include "machine/segment_overlap.h"

#include <algorithm>
#include <cstdio>

#include "machine/image_error.h"
#include "text/hex.h"

namespace rrkit::machine {
namespace {

using text::Hex;

std::string Describe(const SegmentExtent& e) {
  return std::to_string(e.index) + " (" + Hex(e.start) + ".." + Hex(e.end) + ")";
}

}  // namespace

void RefuseOverlappingSegments(std::vector<SegmentExtent> extents, const std::string& name) {
  std::sort(extents.begin(), extents.end(), [](const SegmentExtent& a, const SegmentExtent& b) { return a.start < b.start; });
  for (size_t i = 1; i < extents.size(); ++i) {
    const SegmentExtent& a = extents[i - 1];
    const SegmentExtent& b = extents[i];
    if (b.start < a.end) throw ImageError(name + ": segments " + Describe(a) + " and " + Describe(b) + " overlap");
  }
}

}  // namespace rrkit::machine
