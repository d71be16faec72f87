#include "machine/cut_schedule.h"

#include <stdexcept>
#include <string>

namespace rrkit::machine {

CutSchedule::CutSchedule(uint32_t vcpus, uint64_t interval) : interval_(interval), next_(vcpus, replay::kNever) {
  if (interval > 0 && vcpus > 0) next_[0] = interval;
}

CutSchedule::CutSchedule(uint32_t vcpus, replay::World& world) : logged_(&world), next_(vcpus, replay::kNever) {
  Schedule();
}

bool CutSchedule::Reached(uint32_t vcpu) {
  if (logged_ != nullptr) return false;  // every vCPU comes to a logged cut by its own count
  next_[vcpu] += interval_;
  return true;
}

void CutSchedule::Completed() {
  if (logged_ != nullptr) Schedule();
}

void CutSchedule::Schedule() {
  const std::optional<replay::Checkpoint> cut = logged_->ScheduledCheckpoint();
  if (!cut.has_value()) {
    next_.assign(next_.size(), replay::kNever);
    return;
  }
  if (cut->vcpus.size() != next_.size())
    throw std::invalid_argument("a scheduled checkpoint names " + std::to_string(cut->vcpus.size()) +
                                " vCPUs; the machine has " + std::to_string(next_.size()));
  for (uint32_t v = 0; v < next_.size(); ++v) next_[v] = cut->vcpus[v].at.count;
}

}  // namespace rrkit::machine
