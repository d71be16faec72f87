#include "emu/logged_interrupts.h"

#include <string>

namespace rrkit::emu {

void LoggedInterrupts::TakeScheduled(HartRun& run) {
  Hart& hart = run.hart;
  const uint64_t cause = run.next_interrupt->cause & ~kMcauseInterrupt;
  world_.InterruptTaken(hart.LandmarkAt(hart.instret), cause);
  hart.TakeInterrupt(cause);
  CountTaken();
  run.sleeping = false;
  run.next_interrupt = world_.ScheduledInterrupt(hart.id());
}

// The log says whether this wfi ended without an interrupt; if not, the interrupt that
// ended it is scheduled at this count.
bool LoggedInterrupts::SleepsAfterWfi(HartRun& run) {
  const uint64_t woke = world_.RareOutcome(run.hart.LandmarkAt(run.hart.instret), replay::InputKind::kWfiWake, 0,
                                           [] { return uint64_t{1}; });
  return woke == 0;
}

// Whatever ended this wfi in the recording (an interrupt, a logged wake-up, the end of the
// run) is logged at this very count, so it is the hart's target and came first (cuts leave
// a sleeping hart asleep). Sleeping means the hart is somewhere the recording never was,
// unless the log is incomplete and simply holds nothing more for it (a hart parked for
// good after main): that is where its part of the log ends. (A target of kNever means the
// log has been read to its end; the stop record, if any, would have given a final count.)
InterruptSource::Asleep LoggedInterrupts::WhileAsleep(HartRun& run) {
  if (run.logged_target == replay::kNever && !world_.FinalLandmarks().has_value()) return Asleep::kLogEnded;
  const bool more = run.logged_target != replay::kNever;
  throw replay::Divergence{run.hart.LandmarkAt(run.hart.instret), "wfi wake-up",
                           "an interrupt, a logged wake-up or the end of the run at this count",
                           more ? "nothing logged for this hart before instruction " + std::to_string(run.logged_target)
                                : "nothing more logged for this hart"};
}

}  // namespace rrkit::emu
