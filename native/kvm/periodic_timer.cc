#include "kvm/periodic_timer.h"

namespace rrkit::kvm {

void PeriodicTimer::SetPeriod(uint64_t period_ns, Clock::time_point now) {
  period_ns_ = period_ns;
  if (period_ns == 0) {
    next_due_.reset();
    return;
  }
  next_due_ = now + std::chrono::nanoseconds(period_ns);
}

std::optional<PeriodicTimer::Clock::time_point> PeriodicTimer::TakeDue(Clock::time_point now) {
  if (!next_due_.has_value() || now < *next_due_) return std::nullopt;
  const Clock::time_point due = *next_due_;
  const auto period = std::chrono::nanoseconds(period_ns_);
  next_due_ = due + period;
  if (*next_due_ <= now) next_due_ = now + period;
  return due;
}

}  // namespace rrkit::kvm
