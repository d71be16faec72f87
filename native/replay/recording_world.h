// The world as it is, logged: every value and interrupt an engine takes from a source world
// (normally LiveWorld) is appended to a LogWriter before the engine sees it.
#pragma once

#include "replay/log_writer.h"
#include "replay/world.h"

namespace rrkit::replay {

class RecordingWorld final : public World {
 public:
  // Both must outlive this world. MachineStopped() closes `log` cleanly.
  RecordingWorld(World& source, LogWriter& log) : source_(source), log_(log) {}

  uint64_t Input(Landmark at, InputKind kind, const std::function<uint64_t()>& live) override;
  uint64_t RareOutcome(Landmark at, InputKind kind, uint64_t usual, const std::function<uint64_t()>& live) override;
  bool DeliversLiveInterrupts() const override { return source_.DeliversLiveInterrupts(); }
  void InterruptTaken(Landmark at, uint64_t cause) override;
  void DelayedInterruptTaken(Landmark at, uint64_t cause, uint64_t delay_ns) override;
  std::optional<Scheduled> ScheduledInterrupt(uint32_t vcpu) override { return source_.ScheduledInterrupt(vcpu); }
  // Recording: the engine's checkpoint interval decides, so the world schedules none.
  std::optional<Checkpoint> ScheduledCheckpoint() override { return std::nullopt; }
  void CheckpointTaken(const Checkpoint& checkpoint) override;
  void MachineStopped(Landmark exit_at, int exit_code, const Checkpoint& final_state,
                      const OutputDigest& output) override;
  std::optional<std::vector<uint64_t>> FinalLandmarks() override { return std::nullopt; }
  void DmaDone(const DmaWrite& dma) override;

 private:
  World& source_;
  LogWriter& log_;
};

}  // namespace rrkit::replay
