// Replay, then live: `rrkit replay RUN.rrlog --then-run [-o NEXT.rrlog]`, and what a
// replica does at switchover. Until the engine calls GoLive() — at the end of the log,
// every vCPU paused at its last landmark in it (World::SwitchLandmarks) — this is the
// replaying world; from then on it is `live`: the world as it is, or a RecordingWorld
// writing the next log, whose first records are a copy of the replayed log's (so that it
// replays from reset on its own).
#pragma once

#include <atomic>

#include "replay/log_writer.h"
#include "replay/replaying_world.h"
#include "replay/world.h"

namespace rrkit::replay {

class ReplayThenLiveWorld final : public World {
 public:
  // Both must outlive this world. `next_log`: the log `live` records into, if any (closed
  // here when the replayed log held a stop record, so that nothing went live).
  ReplayThenLiveWorld(ReplayingWorld& replaying, World& live, LogWriter* next_log)
      : replaying_(replaying), live_(live), next_log_(next_log) {}

  uint64_t Input(Landmark at, InputKind kind, const std::function<uint64_t()>& live) override {
    return now().Input(at, kind, live);
  }
  uint64_t RareOutcome(Landmark at, InputKind kind, uint64_t usual, const std::function<uint64_t()>& live) override {
    return now().RareOutcome(at, kind, usual, live);
  }
  bool DeliversLiveInterrupts() const override { return is_live() && live_.DeliversLiveInterrupts(); }
  void InterruptTaken(Landmark at, uint64_t cause) override { now().InterruptTaken(at, cause); }
  void DelayedInterruptTaken(Landmark at, uint64_t cause, uint64_t delay_ns) override {
    now().DelayedInterruptTaken(at, cause, delay_ns);
  }
  std::optional<Scheduled> ScheduledInterrupt(uint32_t vcpu) override { return now().ScheduledInterrupt(vcpu); }
  std::optional<Checkpoint> ScheduledCheckpoint() override { return now().ScheduledCheckpoint(); }
  void CheckpointTaken(const Checkpoint& checkpoint) override { now().CheckpointTaken(checkpoint); }
  void MachineStopped(Landmark exit_at, int exit_code, const Checkpoint& final_state, const OutputDigest& output) override;
  // Where the recording stopped, if the log says; not the end of an incomplete log, where
  // this world goes live instead of stopping (SwitchLandmarks).
  std::optional<std::vector<uint64_t>> FinalLandmarks() override {
    if (!is_live() && replaying_.FinalLandmarksEndAnIncompleteLog()) return std::nullopt;
    return now().FinalLandmarks();
  }
  uint64_t Horizon(uint32_t vcpu) override { return now().Horizon(vcpu); }
  void Advance(uint32_t vcpu, uint64_t count) override { now().Advance(vcpu, count); }
  void Cancel() override { replaying_.Cancel(); }
  void DmaDone(const DmaWrite& dma) override { now().DmaDone(dma); }
  std::optional<DmaWrite> ScheduledDma(uint32_t vcpu) override { return now().ScheduledDma(vcpu); }
  std::optional<std::vector<uint64_t>> SwitchLandmarks() override;
  void GoLive() override { live_now_.store(true, std::memory_order_release); }

  bool is_live() const { return live_now_.load(std::memory_order_acquire); }

 private:
  World& now() { return is_live() ? live_ : static_cast<World&>(replaying_); }

  ReplayingWorld& replaying_;
  World& live_;
  LogWriter* next_log_;
  std::atomic<bool> live_now_{false};
};

}  // namespace rrkit::replay
