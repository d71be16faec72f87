// When the machine takes its consistent cuts (checkpoints). Plain runs and recording:
// every `interval` landmarks of vCPU 0, which starts each cut; the others join at their
// next boundary. Replay: exactly where the log's checkpoints were taken, every vCPU at its
// own recorded landmark, as the log is read (Refresh). The one place an engine's cuts
// depend on the kind of world.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>

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
  uint64_t next(uint32_t vcpu) const { return next_[vcpu].load(std::memory_order_acquire); }
  // `vcpu` is at next(vcpu). True when it must start the cut, asking the others to join;
  // the schedule then moves its next landmark on.
  bool Reached(uint32_t vcpu);
  // The cut completed; call while every vCPU is still paused at it.
  void Completed();
  // Replay, from any vCPU's thread: when no cut is scheduled, the next checkpoint if the
  // log has been read as far (a vCPU's horizon keeps it below any checkpoint not yet read).
  void Refresh();
  // Replay then live, at the switch (every vCPU paused): from now on, live cuts every
  // `interval` landmarks of vCPU 0, counted from `vcpu0_now`.
  void GoLive(uint64_t interval, uint64_t vcpu0_now);

 private:
  void ScheduleLocked();  // replay: the next checkpoint's landmarks

  replay::World* logged_ = nullptr;
  uint64_t interval_ = 0;
  const uint32_t vcpus_;
  std::mutex mutex_;             // replay: Schedule from any thread
  bool scheduled_ = false;       // replay: a checkpoint is in next_
  std::unique_ptr<std::atomic<uint64_t>[]> next_;
};

}  // namespace rrkit::machine
