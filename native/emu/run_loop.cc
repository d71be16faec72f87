// What each hart's thread does: run guest blocks up to its target, the next count at
// which something must happen (a cut, a scheduled interrupt, its replay gate, CREW's
// deferred requests, its final count), and act on its attention word between blocks.
#include <algorithm>
#include <bit>
#include <chrono>
#include <stdexcept>
#include <string>

#include <sched.h>

#include "emu/machine.h"
#include "replay/log_error.h"

namespace rrkit::emu {
namespace {

// The longest a spin-waiting hart sleeps without news (Machine::SpinWait): short enough
// for spins on the clock, long enough to leave the cores to the harts doing work.
constexpr std::chrono::microseconds kSpinWaitTimeout{200};

}  // namespace

void Machine::HartThread(uint32_t index) {
  HartRun& run = *runs_[index];
  try {
    if (host_time_) host_time_->Sample(run.hart.LandmarkAt(run.hart.instret), replay::VcpuActivity::kRunning);
    RunLoop(run);
    if (host_time_) host_time_->Sample(run.hart.LandmarkAt(run.hart.instret), replay::VcpuActivity::kStopped);
  } catch (const replay::Divergence& d) {
    Diverged(d);
  } catch (const crew::ReplayStalled& stalled) {
    // The log's transfer order cannot be followed (an edge missing or altered): the replay
    // did not follow the recording. A stall caused by the machine stopping is no news.
    if (!stopping()) {
      Diverged(replay::Divergence{run.hart.LandmarkAt(run.hart.instret), "transfer order",
                                  "every hart progressing", stalled.what()});
    }
  } catch (const replay::LogError& e) {
    Stop(machine::Outcome::kLogDamaged, e.what());
  } catch (const replay::UnreplayableLog& e) {
    Stop(machine::Outcome::kLogDamaged, e.what());  // no damage in the report: TypeScript says unreplayable
  } catch (const std::exception& e) {
    Stop(machine::Outcome::kHostError, "hart " + std::to_string(index) + ": " + e.what());
  }
  // A hart that stopped for good holds its pages no more than a blocked one does.
  if (crew_) crew_->Park(index, run.hart.instret);
  if (gate_) gate_->Finish(index, run.hart.instret);
  stop_.ThreadEnded();
}

void Machine::RunLoop(HartRun& run) {
  Hart& hart = run.hart;
  UpdateTarget(run);
  while (!run.done) {
    run.published.store(hart.instret, std::memory_order_relaxed);
    if (gate_) gate_->Publish(hart.id(), hart.instret);
    if (hart.instret >= run.target) {
      if (!ReachTarget(run)) return;
      continue;
    }
    if (hart.attention.load(std::memory_order_relaxed) != 0) {
      if (!HandleAttention(run, hart.attention.exchange(0, std::memory_order_acq_rel))) return;
      continue;
    }
    if (run.sleeping) {
      Sleep(run);
      continue;
    }
    ExecuteOneBlock(run);
  }
}

void Machine::ExecuteOneBlock(HartRun& run) {
  Hart& hart = run.hart;
  for (;;) {
    if (!ram_.Contains(hart.pc, 4)) {
      if (!hart.TakeException(Exception::kInstructionAccessFault, hart.pc, 0))
        Stop(machine::Outcome::kFault, hart.fatal_error());
      return;
    }
    Block& block = hart.blocks.Get(hart.pc, ram_);
    const DecodedInsn* insns = block.insns.data();
    const uint64_t budget = run.target - hart.instret;
    if (budget < block.length) {
      // Stop exactly at the target: run a copy of the block's first `budget` instructions.
      std::copy_n(block.insns.begin(), budget, run.clipped.begin());
      run.clipped[budget] = block.insns.back();
      insns = run.clipped.data();
    }
    switch (Execute(run, block, insns)) {
      case BlockExit::kContinue: return;
      case BlockExit::kFatal: Stop(machine::Outcome::kFault, hart.fatal_error()); return;
      case BlockExit::kOwnershipFault:
        // Stopped before the instruction. Once the page is ours, run it at once, before
        // looking at attention: a request that arrived meanwhile must not take the page
        // back before the instruction used it (that would ping-pong without progress).
        // False: the machine is stopping, which the attention word reports next.
        {
          const machine::HostTimeSamples::Stall stall(host_time_.get(), hart.LandmarkAt(hart.instret), replay::VcpuActivity::kPageWait);
          if (!crew_->Acquire(hart.id(), run.ownership_fault.page, run.ownership_fault.write, hart.instret)) return;
        }
        continue;
      case BlockExit::kPause:
        SpinWait(run);
        return;
      case BlockExit::kWfi:
        run.sleeping = interrupts_->SleepsAfterWfi(run);
        return;
    }
  }
}

BlockExit Machine::Execute(HartRun& run, Block& block, const DecodedInsn* insns) {
  Hart& hart = run.hart;
  if (crew_) {
    const CrewAccessCheck policy(crew_->Permissions(hart.id()), static_cast<unsigned>(std::countr_zero(options_.crew_granularity)),
                                 ram_.size(), crew_device_page_, run.ownership_fault);
    return ExecuteBlocks(hart, policy, block, insns, run.target);
  }
  if (gate_) return ExecuteBlocks(hart, GatePublish(*gate_, hart.id()), block, insns, run.target);
  return ExecuteBlocks(hart, NoAccessCheck{}, block, insns, run.target);
}

bool Machine::HandleAttention(HartRun& run, uint32_t bits) {
  if ((bits & kAttentionStop) != 0 || stopping()) return false;
  if ((bits & kAttentionCrew) != 0 && crew_) PollCrew(run);
  if ((bits & kAttentionFlushCode) != 0) run.hart.blocks.Clear();
  if ((bits & kAttentionPause) != 0) JoinCut(run);
  if ((bits & kAttentionInterrupt) != 0) interrupts_->AttentionRaised(run);
  if ((bits & kAttentionSample) != 0 && host_time_ && !run.sleeping) {
    host_time_->Sample(run.hart.LandmarkAt(run.hart.instret), replay::VcpuActivity::kRunning);
  }
  return !stopping();
}

void Machine::Sleep(HartRun& run) {
  switch (interrupts_->WhileAsleep(run)) {
    case InterruptSource::Asleep::kWoken:
      return;
    case InterruptSource::Asleep::kLogEnded:
      FinishHart(run);
      return;
    case InterruptSource::Asleep::kWaitForAttention: {
      // Until a timer, another hart, a cut or the stop sets this hart's attention. Parked,
      // so that CREW takes this hart's pages without waiting for it (and sets no attention bit).
      const machine::HostTimeSamples::Stall stall(host_time_.get(), run.hart.LandmarkAt(run.hart.instret), replay::VcpuActivity::kSleep);
      const ParkedIfCrew parked(crew_.get(), run.hart);
      FutexWait(run.hart.attention, 0);
      return;
    }
  }
}

// A pause retired: the guest spins, waiting for another hart. What the hart does before its
// next instruction is invisible to the guest, so this only decides who gets the host's
// cores. SMP record: sleep, parked, until CREW takes one of this hart's pages (what it
// spins on in RAM cannot change before that), an attention bit, or kSpinWaitTimeout (for
// spins on the clock or a device). The spinner stops taking cycles from the hart it waits
// for, and that hart takes the spinner's pages without waiting for it to reach a block
// boundary. Plain runs and replay: yield the core.
void Machine::SpinWait(HartRun& run) {
  if (harts_.size() == 1) return;
  if (!crew_) {
    sched_yield();
    return;
  }
  const machine::HostTimeSamples::Stall stall(host_time_.get(), run.hart.LandmarkAt(run.hart.instret), replay::VcpuActivity::kSpinWait);
  const crew::Crew::Parked parked(*crew_, run.hart.id(), run.hart.instret, crew::ParkReason::kSpinWait);
  FutexWait(run.hart.attention, 0, kSpinWaitTimeout);
}

// SMP record: serve other harts' page requests. CREW defers those for pages this hart
// gained less than options_.crew_hold_instructions ago (the hold keeps two harts writing
// one page from trading it at every write, each trade costing microseconds, or a host
// context switch when harts outnumber cores) and says at which count to come back.
void Machine::PollCrew(HartRun& run) {
  run.crew_poll_at = crew_->Poll(run.hart.id(), run.hart.instret);
  UpdateTarget(run);
}

void Machine::UpdateTarget(HartRun& run) {
  const uint32_t id = run.hart.id();
  if (!world_.DeliversLiveInterrupts()) RefreshFromLog(run);
  uint64_t target = std::min(run.final_count, cut_schedule_.next(id));
  target = std::min(target, run.horizon);
  target = std::min(target, run.switch_at);
  target = std::min(target, run.crew_poll_at);
  if (gate_) target = std::min(target, gate_->NextWaitCount(id));
  if (run.next_interrupt.has_value()) target = std::min(target, run.next_interrupt->count);
  run.target = target;
}

// Replay reads the log as the harts reach it (replay/world.h, Horizon): a hart runs freely
// up to its horizon, below which every record of it has been read. Another hart may have
// read further since this one computed its target; this one sees that when it reaches the
// target, which is at most its horizon, so nothing it needs can lie below.
void Machine::RefreshFromLog(HartRun& run) {
  const uint32_t id = run.hart.id();
  run.horizon = world_.Horizon(id);
  if (!run.next_interrupt.has_value()) run.next_interrupt = interrupts_->NextScheduled(id);
  if (run.final_count == replay::kNever && FinalCountsKnown()) {
    std::lock_guard lock(final_counts_mutex_);
    run.final_count = (*final_counts_)[id];
  }
  cut_schedule_.Refresh();
  if (run.switch_at == replay::kNever) {
    std::lock_guard lock(switch_mutex_);
    if (!switch_at_.has_value()) switch_at_ = world_.SwitchLandmarks();
    if (switch_at_.has_value() && id < switch_at_->size()) run.switch_at = (*switch_at_)[id];
  }
}

bool Machine::FinalCountsKnown() {
  std::lock_guard lock(final_counts_mutex_);
  if (final_counts_.has_value()) return true;
  if (world_.DeliversLiveInterrupts()) return false;
  auto counts = world_.FinalLandmarks();
  if (!counts.has_value()) return false;
  counts->resize(harts_.size(), replay::kNever);
  final_counts_ = std::move(counts);
  return true;
}

// The hart is at run.target: join a cut, wait at its replay gate, take a scheduled
// interrupt, stop, or (replay) read on in the log. In that order when they coincide, with one exception: an interrupt
// the recording took before that cut (a hart woken from wfi joins cuts without retiring
// anything, so both can fall on one count; the log's order says which came first). A cut
// comes before the gate because the recorded cut was consistent: every hart reaches its
// cut count without anyone passing theirs, whereas the gate's predecessor may itself be
// paused at the cut below the count this hart waits for.
bool Machine::ReachTarget(HartRun& run) {
  Hart& hart = run.hart;
  const uint64_t now = hart.instret;
  if (now >= run.crew_poll_at) {
    PollCrew(run);
    return true;  // whatever else falls on this count comes next
  }
  const uint64_t cut_at = cut_schedule_.next(hart.id());
  const bool interrupt_now = run.next_interrupt.has_value() && now == run.next_interrupt->count;
  if (interrupt_now && now == cut_at && run.next_interrupt->checkpoints_before <= cut_.completed()) {
    interrupts_->TakeScheduled(run);
  } else if (now == cut_at) {
    if (cut_schedule_.Reached(hart.id())) StartCut();
    JoinCut(run);
    if (stopping()) return false;
  } else if (gate_ && now == gate_->NextWaitCount(hart.id())) {
    gate_->WaitAt(hart.id(), now);
  } else if (interrupt_now) {
    interrupts_->TakeScheduled(run);
  } else if (now >= run.final_count) {
    FinishHart(run);
    return false;
  } else if (now >= run.switch_at) {
    JoinSwitch(run);
    if (stopping()) return false;
    return true;  // live now: its target is set
  } else if (now >= run.horizon) {
    world_.Advance(hart.id(), now);
    if (stopping()) return false;
  } else if (now > run.target) {
    throw std::runtime_error("hart " + std::to_string(hart.id()) + " passed its target count " +
                             std::to_string(run.target) + " (at " + std::to_string(now) + ")");
  }
  UpdateTarget(run);
  return true;
}

// The hart stops for good; the machine stops once every hart has.
void Machine::FinishHart(HartRun& run) {
  run.done = true;
  if (stop_.VcpuFinished() < hart_count()) return;
  Stop(stop_.exit().has_value() ? machine::Outcome::kExited : machine::Outcome::kReachedCounts, "");
}

}  // namespace rrkit::emu
