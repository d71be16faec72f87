#include "machine/host_time_samples.h"

#include <utility>

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

HostTimeSamples::GuestEntries::GuestEntries(HostTimeSamples* samples, replay::Landmark at)
    : samples_(samples), entered_at_(at), entered_(Clock::now()), due_(entered_) {
  if (samples_ == nullptr) return;
  samples_->sink_(replay::HostTimeRecord{at, samples_->NanosAt(entered_), replay::VcpuActivity::kRunning});
  due_ = entered_ + samples_->period_;
}

void HostTimeSamples::GuestEntries::Entering(replay::Landmark at) {
  if (samples_ == nullptr) return;
  entered_at_ = at;
  entered_ = Clock::now();
  entry_sampled_ = false;
}

void HostTimeSamples::GuestEntries::Exited(replay::Landmark at) {
  if (samples_ == nullptr) return;
  const Clock::time_point now = Clock::now();
  const bool long_stretch = now - entered_ >= samples_->period_;
  if (long_stretch && !entry_sampled_) {
    samples_->sink_(replay::HostTimeRecord{entered_at_, samples_->NanosAt(entered_), replay::VcpuActivity::kRunning});
  }
  if (!long_stretch && now < due_) return;
  samples_->sink_(replay::HostTimeRecord{at, samples_->NanosAt(now), replay::VcpuActivity::kRunning});
  due_ = now + samples_->period_;
}

void HostTimeSamples::Stall::EndAs(replay::VcpuActivity next) {
  HostTimeSamples* samples = std::exchange(samples_, nullptr);
  if (samples == nullptr) return;
  const Clock::time_point ended = Clock::now();
  const bool long_enough = ended - began_ >= kMinStall;
  if (!long_enough && next == replay::VcpuActivity::kRunning) return;
  try {
    if (long_enough) samples->sink_(replay::HostTimeRecord{at_, samples->NanosAt(began_), activity_});
    samples->sink_(replay::HostTimeRecord{at_, samples->NanosAt(ended), next});
  } catch (...) {
  }
}

}  // namespace rrkit::machine
