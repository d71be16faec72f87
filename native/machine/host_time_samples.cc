#include "machine/host_time_samples.h"

namespace rrkit::machine {

HostTimeSamples::HostTimeSamples(Sink sink, std::chrono::microseconds period, std::function<void()> tick)
    : sink_(std::move(sink)), period_(period), tick_(std::move(tick)) {}

HostTimeSamples::~HostTimeSamples() { Stop(); }

void HostTimeSamples::Start() {
  zero_ = Clock::now();
  if (tick_) thread_ = std::thread([this] { Loop(); });
}

void HostTimeSamples::Stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void HostTimeSamples::Loop() {
  std::unique_lock lock(mutex_);
  while (!wake_.wait_for(lock, period_, [this] { return stopping_; })) tick_();
}

uint64_t HostTimeSamples::NanosAt(Clock::time_point t) const {
  return t <= zero_ ? 0 : static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(t - zero_).count());
}

void HostTimeSamples::Sample(replay::Landmark at, replay::VcpuActivity activity) {
  sink_(replay::HostTimeRecord{at, NanosAt(Clock::now()), activity});
}

void HostTimeSamples::SampleIfDue(replay::Landmark at, Clock::time_point& due) {
  const Clock::time_point now = Clock::now();
  if (now < due) return;
  sink_(replay::HostTimeRecord{at, NanosAt(now), replay::VcpuActivity::kRunning});
  due = now + period_;
}

HostTimeSamples::Stall::~Stall() {
  if (samples_ == nullptr) return;
  const Clock::time_point ended = Clock::now();
  if (ended - began_ < kMinStall) return;
  try {
    samples_->sink_(replay::HostTimeRecord{at_, samples_->NanosAt(began_), activity_});
    samples_->sink_(replay::HostTimeRecord{at_, samples_->NanosAt(ended), replay::VcpuActivity::kRunning});
  } catch (...) {
    // A destructor must not throw: a log that cannot take the sample fails at its next record.
  }
}

}  // namespace rrkit::machine
