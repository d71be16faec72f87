#include "machine/deadline_timer.h"

#include <algorithm>
#include <utility>

namespace rrkit::machine {

DeadlineTimer::DeadlineTimer(uint32_t vcpus, std::function<Clock::time_point(uint32_t)> deadline,
                             std::function<void(uint32_t)> fire)
    : deadline_(std::move(deadline)), fire_(std::move(fire)), fired_(vcpus, false) {}

DeadlineTimer::~DeadlineTimer() { Stop(); }

void DeadlineTimer::Start() { thread_ = std::thread([this] { Loop(); }); }

void DeadlineTimer::Stop() {
  {
    std::lock_guard lock(mutex_);
    quit_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void DeadlineTimer::Rearm(uint32_t vcpu) {
  {
    std::lock_guard lock(mutex_);
    fired_[vcpu] = false;
  }
  cv_.notify_all();
}

void DeadlineTimer::Loop() {
  std::unique_lock lock(mutex_);
  while (!quit_) {
    auto earliest = Clock::time_point::max();
    const auto now = Clock::now();
    for (uint32_t v = 0; v < fired_.size(); ++v) {
      if (fired_[v]) continue;
      const Clock::time_point due = deadline_(v);
      if (due <= now) {
        fired_[v] = true;
        fire_(v);
      } else {
        earliest = std::min(earliest, due);
      }
    }
    if (earliest == Clock::time_point::max()) cv_.wait(lock);
    else cv_.wait_until(lock, earliest);
  }
}

}  // namespace rrkit::machine
