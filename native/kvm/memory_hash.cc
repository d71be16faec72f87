#include "kvm/memory_hash.h"

#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <utility>

#include "emu/state_hash.h"

namespace rrkit::kvm {
namespace {

bool AllZero(const uint8_t* page) {
  uint64_t any = 0;
  for (uint64_t i = 0; i < kPageBytes; i += 8) {
    uint64_t word;
    std::memcpy(&word, page + i, sizeof word);
    any |= word;
  }
  return any == 0;
}

uint64_t PageTerm(const GuestMemory& memory, uint64_t page) {
  const uint8_t* bytes = memory.host() + page * kPageBytes;
  if (AllZero(bytes)) return 0;
  emu::StateHasher h;
  h.Add(page);
  h.Add(emu::HashMemory(bytes, kPageBytes));
  return h.Finish();
}

// The next [begin, end) of offsets at or after `from` that may hold data (begin == size:
// none). Falls back to "all of it" when the file system cannot say.
std::pair<uint64_t, uint64_t> NextDataExtent(int fd, uint64_t from, uint64_t size) {
  const off_t data = lseek(fd, static_cast<off_t>(from), SEEK_DATA);
  if (data < 0) return errno == ENXIO ? std::pair{size, size} : std::pair{from, size};
  const off_t hole = lseek(fd, data, SEEK_HOLE);
  return {static_cast<uint64_t>(data), hole < 0 ? size : std::min<uint64_t>(static_cast<uint64_t>(hole), size)};
}

template <typename Visit>
void ForEachDataPage(const GuestMemory& memory, Visit visit) {
  const uint64_t size = memory.size();
  uint64_t at = 0;
  while (at < size) {
    const auto [begin, end] = NextDataExtent(memory.file().fd(), at, size);
    if (begin >= size) break;
    for (uint64_t offset = begin & ~(kPageBytes - 1); offset < end; offset += kPageBytes) visit(offset / kPageBytes);
    at = (end + kPageBytes - 1) & ~(kPageBytes - 1);
  }
}

uint64_t Finish(uint64_t sum, uint64_t size) {
  emu::StateHasher h;
  h.Add(sum);
  h.Add(size);
  return h.Finish();
}

}  // namespace

MemoryHash::MemoryHash(const GuestMemory& memory)
    : memory_(memory),
      page_terms_(memory.size() / kPageBytes, 0),
      host_written_((memory.size() / kPageBytes + 63) / 64, 0) {}

void MemoryHash::Rehash(uint64_t page) {
  const uint64_t term = PageTerm(memory_, page);
  sum_ += term - page_terms_[page];
  page_terms_[page] = term;
}

void MemoryHash::Update(const std::vector<uint64_t>& dirty) {
  for (size_t word = 0; word < host_written_.size(); ++word) {
    uint64_t bits = host_written_[word] | (word < dirty.size() ? dirty[word] : 0);
    host_written_[word] = 0;
    while (bits != 0) {
      const uint64_t page = word * 64 + static_cast<uint64_t>(std::countr_zero(bits));
      bits &= bits - 1;
      if (page < page_terms_.size()) Rehash(page);
    }
  }
}

void MemoryHash::UpdateAll() {
  std::fill(host_written_.begin(), host_written_.end(), 0);
  ForEachDataPage(memory_, [&](uint64_t page) { Rehash(page); });
}

void MemoryHash::NoteWritten(uint64_t address, uint64_t length) {
  if (length == 0) return;
  const uint64_t last = std::min((address + length - 1) / kPageBytes, page_terms_.size() - 1);
  for (uint64_t page = address / kPageBytes; page <= last; ++page) host_written_[page / 64] |= uint64_t{1} << (page % 64);
}

uint64_t MemoryHash::value() const { return Finish(sum_, memory_.size()); }

uint64_t HashGuestMemory(const GuestMemory& memory) {
  uint64_t sum = 0;
  ForEachDataPage(memory, [&](uint64_t page) { sum += PageTerm(memory, page); });
  return Finish(sum, memory.size());
}

}  // namespace rrkit::kvm
