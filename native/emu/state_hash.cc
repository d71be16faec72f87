#include "emu/state_hash.h"

#include <cstring>

namespace rrkit::emu {

uint64_t StateHasher::Finish() const {
  uint64_t h = state_;
  h ^= h >> 33;
  h *= 0xff51'afd7'ed55'8ccdULL;
  h ^= h >> 33;
  h *= 0xc4ce'b9fe'1a85'ec53ULL;
  return h ^ (h >> 33);
}

uint64_t HashMemory(const uint8_t* data, size_t bytes) {
  StateHasher lanes[4];
  size_t i = 0;
  for (; i + 32 <= bytes; i += 32) {
    uint64_t words[4];
    std::memcpy(words, data + i, sizeof words);
    for (int lane = 0; lane < 4; ++lane) lanes[lane].Add(words[lane]);
  }
  for (; i + 8 <= bytes; i += 8) {
    uint64_t word;
    std::memcpy(&word, data + i, sizeof word);
    lanes[0].Add(word);
  }
  StateHasher combined;
  for (const auto& lane : lanes) combined.Add(lane.Finish());
  combined.Add(bytes);
  return combined.Finish();
}

}  // namespace rrkit::emu
