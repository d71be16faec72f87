// Interrupts from the log (replay); see interrupt_source.h.
#pragma once

#include "emu/interrupt_source.h"
#include "replay/world.h"

namespace rrkit::emu {

class LoggedInterrupts final : public InterruptSource {
 public:
  explicit LoggedInterrupts(replay::World& world) : world_(world) {}

  std::optional<replay::World::Scheduled> NextScheduled(uint32_t hart) override { return world_.ScheduledInterrupt(hart); }
  void TakeScheduled(HartRun& run) override;
  void AttentionRaised(HartRun&) override {}
  bool SleepsAfterWfi(HartRun& run) override;
  Asleep WhileAsleep(HartRun& run) override;
  void SoftwareInterruptChanged(uint32_t) override {}
  void TimerCompareChanged(uint32_t) override {}

 private:
  replay::World& world_;
};

}  // namespace rrkit::emu
