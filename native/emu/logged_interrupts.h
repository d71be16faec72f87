// Interrupts from the log (replay); see interrupt_source.h.
#pragma once

#include "emu/interrupt_source.h"
#include "replay/world.h"

namespace rrkit::emu {

class LoggedInterrupts final : public InterruptSource {
 public:
  // `log_has_end`: the log says where every hart stopped (it was closed cleanly) or the
  // run has stop counts; otherwise a hart asleep with nothing more logged has reached the
  // end of an incomplete log.
  LoggedInterrupts(replay::World& world, bool log_has_end) : world_(world), log_has_end_(log_has_end) {}

  std::optional<replay::World::Scheduled> NextScheduled(uint32_t hart) override { return world_.ScheduledInterrupt(hart); }
  void TakeScheduled(HartRun& run) override;
  void AttentionRaised(HartRun&) override {}
  bool SleepsAfterWfi(HartRun& run) override;
  Asleep WhileAsleep(HartRun& run) override;
  void SoftwareInterruptChanged(uint32_t) override {}
  void TimerCompareChanged(uint32_t) override {}

 private:
  replay::World& world_;
  const bool log_has_end_;
};

}  // namespace rrkit::emu
