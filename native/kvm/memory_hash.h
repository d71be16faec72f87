// The hash of guest RAM that kvm checkpoints carry, kept up to date page by page.
//
// It is a function of the RAM contents alone: the sum (mod 2^64) over pages of a mix of
// each page's index and contents, where an all-zero page adds nothing. A sum can be
// updated for one page without looking at the others, so a checkpoint rehashes only the
// pages written since the last one: those KVM's dirty log reports for the guest, plus
// those the VMM wrote itself (DMA), which KVM does not see.
#pragma once

#include <cstdint>
#include <vector>

#include "kvm/guest_memory.h"

namespace rrkit::kvm {

class MemoryHash {
 public:
  // Knows nothing of the contents yet: call UpdateAll() before the first value().
  explicit MemoryHash(const GuestMemory& memory);

  // Rehashes the pages set in `dirty` (KVM's bitmap: page i is bit i % 64 of word i / 64)
  // and those noted with NoteWritten since the last update.
  void Update(const std::vector<uint64_t>& dirty);
  // Rehashes every page that can hold data (the memfd's holes are zero and skipped): the
  // first hash of a run, taken before KVM's dirty log is started.
  void UpdateAll();
  // The VMM wrote guest-physical [address, address + length).
  void NoteWritten(uint64_t address, uint64_t length);

  uint64_t value() const;

 private:
  void Rehash(uint64_t page);

  const GuestMemory& memory_;
  std::vector<uint64_t> page_terms_;  // each page's summand (0 for an all-zero page)
  std::vector<uint64_t> host_written_;  // bitmap like KVM's
  uint64_t sum_ = 0;
};

// The same function computed from scratch (plain runs, tests).
uint64_t HashGuestMemory(const GuestMemory& memory);

}  // namespace rrkit::kvm
