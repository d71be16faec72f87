// When the machine takes its consistent cuts (checkpoints). Plain runs and recording:
// every `interval` landmarks of vCPU 0, which starts each cut; the others join at their
// next boundary. Replay: exactly where the log's checkpoints were taken, every vCPU at its
// own recorded landmark. The one place an engine's cuts depend on the kind of world.
#pragma once

#include <cstdint>
#include <vector>

#include "replay/world.h"

namespace rrkit::machine {

class CutSchedule {
 public:
  // Live and record: every `interval` landmarks of vCPU 0 (0: never).
  CutSchedule(uint32_t vcpus, uint64_t interval);
  // Replay: the cuts `world` schedules (World::ScheduledCheckpoint). Throws
  // std::invalid_argument when a checkpoint names another number of vCPUs.
  CutSchedule(uint32_t vcpus, replay::World& world);

  // The landmark at which `vcpu` joins the next cut of its own accord (kNever: it joins
  // only when asked).
  uint64_t next(uint32_t vcpu) const { return next_[vcpu]; }
  // `vcpu` is at next(vcpu). True when it must start the cut, asking the others to join;
  // the schedule then moves its next landmark on.
  bool Reached(uint32_t vcpu);
  // The cut completed; call while every vCPU is still paused at it.
  void Completed();

 private:
  void Schedule();  // replay: the next checkpoint's landmarks

  replay::World* const logged_ = nullptr;
  const uint64_t interval_ = 0;
  std::vector<uint64_t> next_;
};

}  // namespace rrkit::machine
