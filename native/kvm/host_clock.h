// The board's time base: host steady time since the machine started. The clock register
// reads it (a logged input) and the periodic timer falls due by it.
#pragma once

#include <chrono>
#include <cstdint>

namespace rrkit::kvm {

class HostClock {
 public:
  using Clock = std::chrono::steady_clock;

  HostClock() : start_(Clock::now()) {}
  Clock::time_point Now() const { return Clock::now(); }
  uint64_t NanosecondsAt(Clock::time_point t) const {
    return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(t - start_).count());
  }
  uint64_t NowNs() const { return NanosecondsAt(Now()); }

  // Going live after a replay (replay --then-run): the guest has seen the recording's clock,
  // up to `latest_ns`; a replay that ran faster than the recording must not show it time
  // going back, so the clock goes on from there when host time since the start is behind.
  void ContinueFrom(uint64_t latest_ns) {
    const uint64_t now = NowNs();
    if (now < latest_ns) start_ -= std::chrono::nanoseconds(latest_ns - now);
  }

 private:
  Clock::time_point start_;
};

}  // namespace rrkit::kvm
