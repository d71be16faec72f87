// Interrupts from the CLINT as host time passes (plain runs and recording); see
// interrupt_source.h.
#pragma once

#include <vector>

#include "emu/clint.h"
#include "emu/interrupt_source.h"
#include "machine/deadline_timer.h"
#include "replay/world.h"

namespace rrkit::emu {

class LiveInterrupts final : public InterruptSource {
 public:
  // Everything must outlive this source.
  LiveInterrupts(replay::World& world, Clint& clint, const MachineClock& clock, std::vector<Hart*> harts);

  void Start() override { timer_.Start(); }
  void Stop() override { timer_.Stop(); }
  std::optional<replay::World::Scheduled> NextScheduled(uint32_t) override { return std::nullopt; }
  void TakeScheduled(HartRun& run) override;
  void AttentionRaised(HartRun& run) override { Evaluate(run); }
  bool SleepsAfterWfi(HartRun&) override { return true; }
  Asleep WhileAsleep(HartRun& run) override;
  void SoftwareInterruptChanged(uint32_t hart) override;
  void TimerCompareChanged(uint32_t hart) override;

 private:
  void Evaluate(HartRun& run);

  replay::World& world_;
  const std::vector<Hart*> harts_;
  // Raises MTIP (as attention) on each hart whose mtimecmp host time has passed.
  machine::DeadlineTimer timer_;
};

}  // namespace rrkit::emu
