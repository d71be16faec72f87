#include "emu/live_interrupts.h"

#include <stdexcept>
#include <utility>

namespace rrkit::emu {
namespace {

// Highest-priority pending-and-enabled interrupt (privileged spec: MEI > MSI > MTI).
uint64_t HighestInterrupt(uint64_t pending) {
  if (pending & kMipMeip) return kInterruptExternal;
  if (pending & kMipMsip) return kInterruptSoftware;
  return kInterruptTimer;
}

}  // namespace

LiveInterrupts::LiveInterrupts(replay::World& world, Clint& clint, const MachineClock& clock, std::vector<Hart*> harts)
    : world_(world),
      harts_(std::move(harts)),
      timer_fired_(std::make_unique<std::atomic<bool>[]>(harts_.size())),
      timer_(
          static_cast<uint32_t>(harts_.size()),
          [&clint, &clock](uint32_t hart) { return clock.TimeOfTicks(clint.TimerCompare(hart)); },
          [this](uint32_t hart) {
            timer_fired_[hart].store(true, std::memory_order_release);
            harts_[hart]->RaiseAttention(kAttentionInterrupt);
          }) {}

void LiveInterrupts::TakeScheduled(HartRun&) {
  throw std::logic_error("a live run has no scheduled interrupts");
}

uint64_t LiveInterrupts::Deliverable(Hart& hart) const {
  uint64_t pending = hart.LivePendingInterrupts() & hart.mie;
  if (!timer_fired_[hart.id()].load(std::memory_order_acquire)) pending &= ~kMipMtip;
  return pending;
}

// Take the highest pending interrupt if enabled; wake a sleeping hart when any
// enabled-in-mie interrupt is pending (wfi ignores mstatus.MIE).
void LiveInterrupts::Evaluate(HartRun& run) {
  Hart& hart = run.hart;
  const uint64_t pending = Deliverable(hart);
  if (pending == 0) return;
  const replay::Landmark at = hart.LandmarkAt(hart.instret);
  const bool was_sleeping = run.sleeping;
  run.sleeping = false;
  if ((hart.mstatus & kMstatusMie) != 0) {
    const uint64_t cause = HighestInterrupt(pending);
    world_.InterruptTaken(at, cause);
    hart.TakeInterrupt(cause);
    CountTaken();
  } else if (was_sleeping) {
    world_.RareOutcome(at, replay::InputKind::kWfiWake, 0, [] { return uint64_t{1}; });
  }
}

InterruptSource::Asleep LiveInterrupts::WhileAsleep(HartRun& run) {
  if (Deliverable(run.hart) == 0) return Asleep::kWaitForAttention;
  Evaluate(run);
  return Asleep::kWoken;
}

void LiveInterrupts::SoftwareInterruptChanged(uint32_t hart) { harts_[hart]->RaiseAttention(kAttentionInterrupt); }

void LiveInterrupts::TimerCompareChanged(uint32_t hart) {
  // Before Rearm: a firing for the new compare that lands in between sets it again.
  timer_fired_[hart].store(false, std::memory_order_release);
  timer_.Rearm(hart);
  harts_[hart]->RaiseAttention(kAttentionInterrupt);
}

}  // namespace rrkit::emu
