// Interrupts from the CLINT as host time passes (plain runs and recording); see
// interrupt_source.h.
#pragma once

#include <atomic>
#include <memory>
#include <vector>

#include "emu/clint.h"
#include "emu/interrupt_source.h"
#include "machine/deadline_timer.h"
#include "replay/world.h"

namespace rrkit::emu {

// A timer interrupt is delivered when the deadline timer fires for the hart's current
// mtimecmp (as QEMU's CLINT raises MTIP from a timer callback), not whenever an instruction
// boundary finds mtime past mtimecmp. The difference matters when the guest's handler takes
// longer in host time than its period: checked at every boundary, the interrupt would be
// pending again at the handler's mret and taken before the interrupted code retired a
// single instruction, for ever; delivered by the timer, the interrupted code runs until the
// timer thread wakes for the new deadline, and the guest progresses as on hardware.
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
  // The interrupts pending and enabled in mie that may be delivered now (MTIP only once fired).
  uint64_t Deliverable(Hart& hart) const;

  replay::World& world_;
  const std::vector<Hart*> harts_;
  // Per hart: the timer fired for its current mtimecmp (cleared when the guest writes it).
  std::unique_ptr<std::atomic<bool>[]> timer_fired_;
  // Raises MTIP (as attention) on each hart whose mtimecmp host time has passed.
  machine::DeadlineTimer timer_;
};

}  // namespace rrkit::emu
