#include "emu/ram_hash.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>
#include <algorithm>

#include "emu/memory.h"
#include "emu/state_hash.h"

namespace rrkit::emu {
namespace {

constexpr uint64_t kPageBytes = uint64_t{1} << kPageShift;

bool AllZero(const uint8_t* page) {
  uint64_t any = 0;
  for (uint64_t i = 0; i < kPageBytes; i += 8) {
    uint64_t word;
    std::memcpy(&word, page + i, sizeof word);
    any |= word;
  }
  return any == 0;
}

// The next [begin, end) of RAM offsets at or after `from` that may hold data; begin ==
// size when there is none. Falls back to "everything may" when the file system cannot say.
std::pair<uint64_t, uint64_t> NextDataExtent(int fd, uint64_t from, uint64_t size) {
  const off_t data = lseek(fd, static_cast<off_t>(from), SEEK_DATA);
  if (data < 0) return errno == ENXIO ? std::pair{size, size} : std::pair{from, size};
  const off_t hole = lseek(fd, data, SEEK_HOLE);
  const uint64_t end = hole < 0 ? size : std::min<uint64_t>(static_cast<uint64_t>(hole), size);
  return {static_cast<uint64_t>(data), end};
}

}  // namespace

uint64_t HashRam(const GuestRam& ram) {
  StateHasher combined;
  ForEachDataPage(ram, [&](uint64_t page, const uint8_t* bytes) {
    combined.Add(page >> kPageShift);
    combined.Add(HashMemory(bytes, kPageBytes));
  });
  combined.Add(ram.size());
  return combined.Finish();
}

void ForEachDataPage(const GuestRam& ram, const std::function<void(uint64_t offset, const uint8_t* bytes)>& visit) {
  const uint64_t size = ram.size();
  uint64_t at = 0;
  while (at < size) {
    const auto [begin, end] = NextDataExtent(ram.fd(), at, size);
    if (begin >= size) break;
    for (uint64_t page = begin & ~(kPageBytes - 1); page < end; page += kPageBytes) {
      const uint8_t* bytes = ram.host() + page;
      if (!AllZero(bytes)) visit(page, bytes);
    }
    at = (end + kPageBytes - 1) & ~(kPageBytes - 1);
  }
}

}  // namespace rrkit::emu
