// The hashes that checkpoints and final states compare: a fast 64-bit mix over words.
// Not cryptographic; it only has to make an accidental match between different states
// vanishingly unlikely.
#pragma once

#include <cstddef>
#include <cstdint>

namespace rrkit::emu {

class StateHasher {
 public:
  void Add(uint64_t word) {
    state_ = (state_ ^ word) * 0x9e37'79b9'7f4a'7c15ULL;
    state_ ^= state_ >> 29;
  }
  uint64_t Finish() const;

 private:
  uint64_t state_ = 0x6a09'e667'f3bc'c908ULL;
};

// Hash of a memory range (a multiple of 8 bytes), four independent lanes for speed.
// Guest RAM is hashed page by page with it (ram_hash.h).
uint64_t HashMemory(const uint8_t* data, size_t bytes);

}  // namespace rrkit::emu
