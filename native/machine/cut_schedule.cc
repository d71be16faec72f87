#include "machine/cut_schedule.h"

#include <stdexcept>
#include <string>

namespace rrkit::machine {

CutSchedule::CutSchedule(uint32_t vcpus, uint64_t interval)
    : interval_(interval), vcpus_(vcpus), next_(new std::atomic<uint64_t>[vcpus]) {
  for (uint32_t v = 0; v < vcpus; ++v) next_[v].store(replay::kNever);
  if (interval > 0 && vcpus > 0) next_[0].store(interval);
}

CutSchedule::CutSchedule(uint32_t vcpus, replay::World& world)
    : logged_(&world), vcpus_(vcpus), next_(new std::atomic<uint64_t>[vcpus]) {
  std::lock_guard lock(mutex_);
  for (uint32_t v = 0; v < vcpus; ++v) next_[v].store(replay::kNever);
  ScheduleLocked();
}

bool CutSchedule::Reached(uint32_t vcpu) {
  if (logged_ != nullptr) return false;  // every vCPU comes to a logged cut by its own count
  next_[vcpu].fetch_add(interval_, std::memory_order_acq_rel);
  return true;
}

void CutSchedule::Completed() {
  if (logged_ == nullptr) return;
  std::lock_guard lock(mutex_);
  scheduled_ = false;
  ScheduleLocked();
}

void CutSchedule::Refresh() {
  if (logged_ == nullptr) return;
  std::lock_guard lock(mutex_);
  if (!scheduled_) ScheduleLocked();
}

void CutSchedule::GoLive(uint64_t interval, uint64_t vcpu0_now) {
  std::lock_guard lock(mutex_);
  logged_ = nullptr;
  interval_ = interval;
  for (uint32_t v = 0; v < vcpus_; ++v) next_[v].store(replay::kNever, std::memory_order_release);
  if (interval > 0 && vcpus_ > 0) next_[0].store(vcpu0_now + interval, std::memory_order_release);
}

void CutSchedule::ScheduleLocked() {
  const std::optional<replay::Checkpoint> cut = logged_->ScheduledCheckpoint();
  if (!cut.has_value()) {
    for (uint32_t v = 0; v < vcpus_; ++v) next_[v].store(replay::kNever, std::memory_order_release);
    return;
  }
  if (cut->vcpus.size() != vcpus_)
    throw std::invalid_argument("a scheduled checkpoint names " + std::to_string(cut->vcpus.size()) +
                                " vCPUs; the machine has " + std::to_string(vcpus_));
  for (uint32_t v = 0; v < vcpus_; ++v) next_[v].store(cut->vcpus[v].at.count, std::memory_order_release);
  scheduled_ = true;
}

}  // namespace rrkit::machine
