#include "elf/loadable_segments.h"

#include <cstdio>
#include <cstring>
#include <utility>

#include "machine/segment_overlap.h"
#include "text/hex.h"

namespace rrkit::elf {
namespace {

using text::Hex;

}  // namespace

std::vector<Segment> LoadableSegments(std::span<const uint8_t> file, const Elf64_Ehdr& header, const LoadRange& ram,
                                      const std::string& name) {
  auto fail = [&](const std::string& why) { return ElfError(name + ": " + why); };
  std::vector<Segment> segments;
  std::vector<machine::SegmentExtent> extents;
  for (uint16_t i = 0; i < header.e_phnum; ++i) {
    Elf64_Phdr ph;
    std::memcpy(&ph, file.data() + header.e_phoff + i * sizeof(Elf64_Phdr), sizeof ph);
    if (ph.p_type != PT_LOAD || ph.p_memsz == 0) continue;
    const std::string segment = "segment " + std::to_string(i);
    if (ph.p_filesz > ph.p_memsz) throw fail(segment + " has filesz > memsz");
    if (ph.p_offset > file.size() || ph.p_filesz > file.size() - ph.p_offset) throw fail(segment + " lies outside the file");
    if (ph.p_paddr < ram.start || ph.p_paddr >= ram.end || ph.p_memsz > ram.end - ph.p_paddr)
      throw fail(segment + " at " + Hex(ph.p_paddr) + ".." + Hex(ph.p_paddr + ph.p_memsz) + " is outside " + ram.description);
    extents.push_back({i, ph.p_paddr, ph.p_paddr + ph.p_memsz});
    segments.push_back({ph.p_paddr, std::vector<uint8_t>(file.begin() + static_cast<ptrdiff_t>(ph.p_offset),
                                                         file.begin() + static_cast<ptrdiff_t>(ph.p_offset + ph.p_filesz))});
  }
  if (segments.empty()) throw fail("no loadable segments");
  machine::RefuseOverlappingSegments(std::move(extents), name);
  return segments;
}

}  // namespace rrkit::elf
