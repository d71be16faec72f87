// Where a hart's asynchronous interrupts come from, and what ends its wfi: the one place
// the emu engine depends on whether its World is live or a replay (replay/world.h).
//
//   LiveInterrupts    plain runs and recording: the CLINT as host time passes. A timer
//                     thread and msip writes raise the hart's attention; the hart then
//                     takes the highest pending, enabled interrupt at its next boundary
//                     (the World logs where).
//   LoggedInterrupts  replay: the log says at which count each interrupt is taken and
//                     whether a wfi ended without one; the devices raise nothing.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>

#include "emu/hart_run.h"
#include "replay/world.h"

namespace rrkit::emu {

class InterruptSource {
 public:
  virtual ~InterruptSource() = default;

  // Whatever raises interrupts as time passes (live: the timer thread).
  virtual void Start() {}
  virtual void Stop() {}

  // The interrupt `hart` must take next at an exact count, or nullopt when interrupts come
  // as attention instead.
  virtual std::optional<replay::World::Scheduled> NextScheduled(uint32_t hart) = 0;
  // The hart is at its scheduled interrupt's count: take it, and schedule the next.
  virtual void TakeScheduled(HartRun& run) = 0;

  // The hart's attention says its interrupt state may have changed (a timer fell due;
  // msip, mie or mstatus written; mret): take what is pending and enabled, or end a wfi.
  virtual void AttentionRaised(HartRun& run) = 0;
  // A wfi retired: whether the hart now sleeps.
  virtual bool SleepsAfterWfi(HartRun& run) = 0;

  enum class Asleep {
    kWoken,             // an interrupt was taken or the wfi ended: run on
    kWaitForAttention,  // block until something raises the hart's attention
    kLogEnded,          // replay of an incomplete log: this hart's part of it ends here
  };
  // The hart sleeps in wfi (throws Divergence when a replay finds it asleep where the
  // recording never was).
  virtual Asleep WhileAsleep(HartRun& run) = 0;

  // What the CLINT tells the machine (BoardEvents), as far as interrupts are concerned.
  virtual void SoftwareInterruptChanged(uint32_t hart) = 0;
  virtual void TimerCompareChanged(uint32_t hart) = 0;

  // Interrupts taken by all harts so far (the run result reports it: a recording whose
  // interrupts come faster than the guest handles them says so).
  uint64_t taken() const { return taken_.load(std::memory_order_relaxed); }

 protected:
  void CountTaken() { taken_.fetch_add(1, std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> taken_{0};
};

}  // namespace rrkit::emu
