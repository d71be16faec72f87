// The board's periodic timer: the guest writes a period in ns (0 stops it); the timer falls
// due every period of host time and raises vector 0x20. It is looked at only at VM exits,
// the only points where rrkit delivers interrupts, so it needs no thread of its own. Ticks
// missed while the guest made no exit are dropped, not delivered back to back (as the rv64
// runtime does with mtimecmp).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

namespace rrkit::kvm {

class PeriodicTimer {
 public:
  using Clock = std::chrono::steady_clock;

  void SetPeriod(uint64_t period_ns, Clock::time_point now);
  uint64_t period_ns() const { return period_ns_; }

  // When the timer is due at or before `now`: the time it fell due; the next tick is one
  // period later (or one period after `now`, when it fell behind by more than a period).
  std::optional<Clock::time_point> TakeDue(Clock::time_point now);
  // When the next tick falls due (none when stopped).
  std::optional<Clock::time_point> next_due() const { return next_due_; }

 private:
  uint64_t period_ns_ = 0;
  std::optional<Clock::time_point> next_due_;
};

}  // namespace rrkit::kvm
