// What the next value from the world is expected to be, so that a value close to it costs
// a few bits in the log (docs/log-format.md, "Predicted values"). Encoder and decoder run
// the same predictor over the same values, so they agree; each chunk starts afresh.
#pragma once

#include <array>
#include <cstdint>

#include "replay/world.h"

namespace rrkit::replay {

// A vCPU's clock: the previous read plus the landmarks elapsed since, at the rate (clock
// ticks per landmark) recent reads showed. In a busy-poll loop the residual is a tick or
// two; after a pause, the rate still places the value close.
class ClockPredictor {
 public:
  static constexpr int kRateFractionBits = 16;

  uint64_t Predict(uint64_t count) const {
    const unsigned __int128 advance = static_cast<unsigned __int128>(count - count_) * rate_;
    return value_ + static_cast<uint64_t>(advance >> kRateFractionBits);
  }

  void Observe(uint64_t count, uint64_t value) {
    const uint64_t elapsed = count - count_;
    const uint64_t advance = value - value_;
    // Rates from gaps too long or jumps too big to say anything about the next read are
    // ignored; the bounds also keep every product within 64 bits.
    if (elapsed != 0 && elapsed < (uint64_t{1} << 32) && advance < (uint64_t{1} << 32)) {
      const uint64_t observed = (advance << kRateFractionBits) / elapsed;
      rate_ = (3 * rate_ + observed) / 4;
    }
    count_ = count;
    value_ = value;
  }

 private:
  uint64_t value_ = 0;
  uint64_t count_ = 0;
  uint64_t rate_ = 0;  // ticks per landmark, << kRateFractionBits
};

// Everything a vCPU's next input is predicted from, within one chunk.
struct InputHistory {
  uint8_t last_kind = 0;     // 0: no input of this vCPU yet in this chunk
  uint64_t last_delta = 0;   // its landmark delta (what a repeated input reuses)
  ClockPredictor clock;
  std::array<uint64_t, 8> last_value{};  // by InputKind: the delta base of the other kinds
};

}  // namespace rrkit::replay
