#include "machine/stop_protocol.h"

#include <cstdio>
#include <utility>

namespace rrkit::machine {
namespace {

// "5", "0.25", "1.5": as few digits as the milliseconds need.
std::string Seconds(std::chrono::milliseconds duration) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", static_cast<double>(duration.count()) / 1000.0);
  return text;
}

}  // namespace

StopProtocol::StopProtocol(std::function<void()> wake_all, std::string_view landmark_name)
    : wake_all_(std::move(wake_all)), landmark_name_(landmark_name) {}

void StopProtocol::Stop(Outcome outcome, std::string error) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_.load()) return;
    outcome_ = outcome;
    error_ = std::move(error);
    stopping_.store(true, std::memory_order_release);
  }
  wake_all_();
}

void StopProtocol::Diverged(const replay::Divergence& divergence) {
  {
    std::lock_guard lock(mutex_);
    if (!stopping_.load() && !divergence_) divergence_ = divergence;
  }
  Stop(Outcome::kDiverged, replay::DescribeDivergence(divergence, landmark_name_));
}

bool StopProtocol::RecordExit(replay::Landmark at, int code) {
  std::lock_guard lock(mutex_);
  if (exit_.has_value()) return false;
  exit_ = Exit{at, code};
  return true;
}

std::optional<StopProtocol::Exit> StopProtocol::exit() {
  std::lock_guard lock(mutex_);
  return exit_;
}

uint32_t StopProtocol::VcpuFinished() {
  std::lock_guard lock(mutex_);
  return ++vcpus_finished_;
}

void StopProtocol::ThreadEnded() {
  std::lock_guard lock(mutex_);
  ++threads_ended_;
  threads_cv_.notify_all();
}

void StopProtocol::WaitForThreads(uint32_t threads, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  auto all_ended = [&] { return threads_ended_ == threads; };
  if (timeout.count() > 0 && !threads_cv_.wait_for(lock, timeout, all_ended)) {
    lock.unlock();
    Stop(Outcome::kTimeout, "the guest did not stop within the timeout of " + Seconds(timeout) + " s");
    lock.lock();
  }
  threads_cv_.wait(lock, all_ended);
}

Outcome StopProtocol::outcome() {
  std::lock_guard lock(mutex_);
  return outcome_;
}

std::string StopProtocol::error() {
  std::lock_guard lock(mutex_);
  return error_;
}

std::optional<replay::Divergence> StopProtocol::divergence() {
  std::lock_guard lock(mutex_);
  return divergence_;
}

}  // namespace rrkit::machine
