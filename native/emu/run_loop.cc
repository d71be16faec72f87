// What a hart does with a pool thread (M:N, machine/vcpu_scheduler.h): run guest blocks up
// to its target, the next count at which something must happen (a cut, a scheduled
// interrupt, its replay gate or turn, CREW's deferred requests, the end of its turn or of
// its slice, its final count), and act on its attention word between blocks. Whatever it
// waits for (a page, a cut, a gate, a turn, an interrupt, a spin) it waits for off its
// thread, at a block boundary with its state in memory: HartWait says what, and the next
// slice looks at it again (a wake-up may be spurious).
#include <algorithm>
#include <bit>
#include <chrono>
#include <sched.h>

#include <sstream>
#include <stdexcept>
#include <string>

#include "emu/machine.h"
#include "replay/log_error.h"

namespace rrkit::emu {
namespace {

using SliceEnd = machine::VcpuScheduler::SliceEnd;

// The longest a spin-waiting hart waits without news (Machine::SpinWait): short enough for
// spins on the clock, long enough to leave the threads to the harts doing work.
constexpr std::chrono::microseconds kSpinWaitTimeout{200};

// Before a hart whose page request is pending gives its thread up: the holder is usually
// a block away from its boundary on another thread.
constexpr int kSpinBeforeWaiting = 200;

// The spin probe (executor.h): how often a hart is sampled, and for how long it is
// watched then. A spin is found within about a sample period of its start; the period
// shrinks to the shortest for a hart that was just seen spinning (it will likely spin
// again soon, as a producer does each time its ring is full) and doubles back with each
// window that finds none, so that computing harts leave their blocks rarely. A hart seen
// spinning is watched again as soon as it runs: a turn, a handshake or a lock hand-off
// makes it do a few instructions of work and spin again, and every instruction it spins
// before the probe sees it is a turn or a page held from the hart it waits for.
constexpr uint64_t kSpinSampleShortest = 1024;
constexpr uint64_t kSpinSampleLongest = 16 * 1024;
constexpr uint64_t kSpinProbeWindow = 1024;

inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

}  // namespace

SliceEnd Machine::RunSlice(uint32_t index) {
  HartRun& run = *runs_[index];
  Step step = Step::kDone;
  try {
    // Its wait, if any, is over when the hart has a thread again: the stall's samples go in
    // now, at the count where it waited, before the hart logs anything further on.
    run.stall.reset();
    if (host_time_ && !run.start_sampled) {
      host_time_->Sample(run.hart.LandmarkAt(run.hart.instret), replay::VcpuActivity::kRunning);
      run.start_sampled = true;
    }
    step = Slice(run);
  } catch (const replay::Divergence& d) {
    Diverged(d);
  } catch (const crew::ReplayStalled& stalled) {
    // The log's transfer order cannot be followed (an edge missing or altered): the replay
    // did not follow the recording. A stall caused by the machine stopping is no news.
    if (!stopping()) {
      Diverged(replay::Divergence{run.hart.LandmarkAt(run.hart.instret), "transfer order",
                                  "every hart progressing", stalled.what()});
    }
  } catch (const crew::InvalidSerialLog& bad) {
    Diverged(replay::Divergence{run.hart.LandmarkAt(run.hart.instret), "turn order", "the recorded turns", bad.what()});
  } catch (const replay::LogError& e) {
    Stop(machine::Outcome::kLogDamaged, e.what());
  } catch (const replay::UnreplayableLog& e) {
    Stop(machine::Outcome::kLogDamaged, e.what());  // no damage in the report: TypeScript says unreplayable
  } catch (const std::exception& e) {
    Stop(machine::Outcome::kHostError, "hart " + std::to_string(index) + ": " + e.what());
  }
  switch (step) {
    case Step::kYield: return SliceEnd::kYield;
    case Step::kBlocked: return SliceEnd::kBlocked;
    case Step::kContinue:
    case Step::kDone: break;
  }
  EndHart(run);
  return SliceEnd::kDone;
}

// The hart stops for good (its final count, or the machine stops): it holds its pages no
// more than a waiting one does, and whoever waits for its count learns it will not come.
void Machine::EndHart(HartRun& run) {
  const uint32_t id = run.hart.id();
  if (crew_) {
    if (run.wait == HartWait::kPage) crew_->Resume(id);  // withdraws the request (CREW is stopped)
    if (!run.crew_parked) crew_->Park(id, run.hart.instret);
    run.crew_parked = true;
  }
  if (gate_) gate_->Finish(id, run.hart.instret);
  run.stall.reset();
  if (host_time_) host_time_->Sample(run.hart.LandmarkAt(run.hart.instret), replay::VcpuActivity::kStopped);
  run.done = true;
}

Machine::Step Machine::Slice(HartRun& run) {
  Hart& hart = run.hart;
  const uint32_t id = hart.id();
  if (stopping()) return Step::kDone;
  if (gate_) gate_->Reached(id, hart.instret);  // it may have been run to wake the harts waiting for it
  const Step resumed = Resumed(run);
  if (resumed != Step::kContinue) return resumed;
  run.slice_end = hart.instret + SliceLength();
  UpdateTarget(run);
  for (;;) {
    run.published.store(hart.instret, std::memory_order_relaxed);
    if (gate_) gate_->Publish(id, hart.instret);
    Step step = Step::kContinue;
    if (hart.instret >= run.target) {
      step = ReachTarget(run);
    } else if (hart.attention.load(std::memory_order_relaxed) != 0) {
      step = HandleAttention(run, hart.attention.exchange(0, std::memory_order_acq_rel));
    } else if (run.sleeping) {
      step = Sleep(run);
    } else if (!run.turn_held) {
      // Serialized mode: a member executes only while it holds its group's turn.
      if (follower_) {
        step = FollowTurns(run, true);
      } else if (serializer_->HoldsTurn(id) || serializer_->WantTurn(id, hart.instret)) {
        run.turn_held = true;
        StartTurn(run);
        UpdateTarget(run);
      } else {
        return Wait(run, HartWait::kTurn);
      }
    } else {
      UnparkCrew(run);
      step = ExecuteOneBlock(run);
    }
    if (step != Step::kContinue) return step;
  }
}

// What the hart waited for, looked at again. kContinue: it may go on.
Machine::Step Machine::Resumed(HartRun& run) {
  const Step step = ResumedWait(run);
  if (run.wait == HartWait::kNone) run.stall.reset();  // its wait (if any) ended: logs the stall
  return step;
}

Machine::Step Machine::ResumedWait(HartRun& run) {
  Hart& hart = run.hart;
  const uint32_t id = hart.id();
  const HartWait why = run.wait;
  run.wait = HartWait::kNone;
  switch (why) {
    case HartWait::kNone:
    case HartWait::kSpin:
    case HartWait::kSleep:
    case HartWait::kTurn:  // recording: WantTurn in the loop, after cuts and the stop
      if (why == HartWait::kTurn && follower_) return FollowTurns(run, false);
      return Step::kContinue;
    case HartWait::kCut:
      if (!cut_.Completed(run.cut_generation)) break;
      UpdateTarget(run);
      return Step::kContinue;
    case HartWait::kSwitch:
      if (!switch_cut_.Completed(run.cut_generation)) break;
      if (stopping()) return Step::kDone;
      UpdateTarget(run);
      return Step::kContinue;
    case HartWait::kGate:
      if (!gate_->TryPass(id, hart.instret)) break;
      return Step::kContinue;
    case HartWait::kPage:
      switch (crew_->Resume(id)) {
        case crew::Grant::kPending: break;
        case crew::Grant::kStopped: return Step::kDone;
        case crew::Grant::kGranted:
          // Run the instruction that faulted before anything else: a request that came
          // meanwhile must not take the page back before the instruction used it.
          run.slice_end = hart.instret + SliceLength();
          UpdateTarget(run);
          return ExecuteOneBlock(run);
      }
      break;
  }
  run.wait = why;
  return Step::kBlocked;
}

// The hart gives its thread up until whatever it waits for wakes it (SMP record: parked in
// CREW, so that others take its pages at once; a pending page request is not a park).
Machine::Step Machine::Wait(HartRun& run, HartWait why, crew::ParkReason reason) {
  if (why != HartWait::kPage) ParkCrew(run, reason);
  run.wait = why;
  if (host_time_) {
    // Record --wall-samples: logged when the wait ends, if it lasted long enough. A turn is
    // waited for because of the pages the group trades: drawn as a page wait.
    std::optional<replay::VcpuActivity> activity;
    switch (why) {
      case HartWait::kPage:
      case HartWait::kTurn: activity = replay::VcpuActivity::kPageWait; break;
      case HartWait::kCut: activity = replay::VcpuActivity::kCut; break;
      case HartWait::kSleep: activity = replay::VcpuActivity::kSleep; break;
      case HartWait::kSpin: activity = replay::VcpuActivity::kSpinWait; break;
      case HartWait::kNone:
      case HartWait::kGate:
      case HartWait::kSwitch: break;  // replay: no samples
    }
    run.stall.reset();
    if (activity.has_value()) run.stall.emplace(host_time_.get(), run.hart.LandmarkAt(run.hart.instret), *activity);
  }
  return Step::kBlocked;
}

void Machine::ParkCrew(HartRun& run, crew::ParkReason reason) {
  if (!crew_ || run.crew_parked) return;
  crew_->Park(run.hart.id(), run.hart.instret, reason);
  run.crew_parked = true;
}

void Machine::UnparkCrew(HartRun& run) {
  if (!run.crew_parked) return;
  crew_->Unpark(run.hart.id());
  run.crew_parked = false;
}

Machine::Step Machine::ExecuteOneBlock(HartRun& run) {
  Hart& hart = run.hart;
  for (;;) {
    if (!ram_.Contains(hart.pc, 4)) {
      if (!hart.TakeException(Exception::kInstructionAccessFault, hart.pc, 0))
        Stop(machine::Outcome::kFault, hart.fatal_error());
      return Step::kContinue;
    }
    Block& block = hart.blocks.Get(hart.pc, ram_);
    const DecodedInsn* insns = block.insns.data();
    const uint64_t budget = run.target > hart.instret ? run.target - hart.instret : 0;
    if (budget < block.length) {
      // Stop exactly at the target: run a copy of the block's first `budget` instructions.
      std::copy_n(block.insns.begin(), budget, run.clipped.begin());
      run.clipped[budget] = block.insns.back();
      insns = run.clipped.data();
    }
    // Now and then, watch for a spin (executor.h) over a window of instructions.
    const bool probe = hart.instret < run.spin_probe_until;
    if (probe) {
      hart.spin_head = block.reads_only ? hart.pc : Hart::kNoSpinMark;
      std::copy(hart.x.begin(), hart.x.begin() + 32, hart.spin_snapshot.begin());
      hart.spin_steps = 0;
      hart.spin_next_move = 1;
      hart.spin_seen = false;
    }
    const BlockExit exit = probe ? Execute<true>(run, block, insns, std::min(run.target, run.spin_probe_until))
                                 : Execute<false>(run, block, insns, run.target);
    if (probe) EndProbe(run, exit);
    switch (exit) {
      case BlockExit::kContinue: return Step::kContinue;
      case BlockExit::kFatal: Stop(machine::Outcome::kFault, hart.fatal_error()); return Step::kContinue;
      case BlockExit::kOwnershipFault: {
        // Stopped before the instruction. Once the page is ours, run it at once, before
        // looking at attention: a request that arrived meanwhile must not take the page
        // back before the instruction used it (that would ping-pong without progress).
        const Step step = OwnershipFault(run);
        if (step != Step::kContinue) return step;
        continue;
      }
      case BlockExit::kPause: return SpinWait(run);
      case BlockExit::kWfi:
        run.sleeping = interrupts_->SleepsAfterWfi(run);
        return Step::kContinue;
    }
  }
}

// A probed stretch ended. A spin seen: look again as soon as the hart runs on. A pause that
// retired (the guest's own spin-wait hint) or the window over without a spin: look less
// often — a guest that hints its waits needs no probe to find them, and a probed block runs
// slower (on lock-counter with 8 vCPUs on 2 threads, probing after every hint made plain
// runs 1.2–1.4 × slower than with the probe off). Anything else (a fault, a trap,
// attention, a target) leaves the window open, and the next block goes on watching.
void Machine::EndProbe(HartRun& run, BlockExit exit) {
  const uint64_t now = run.hart.instret;
  if (exit == BlockExit::kPause && run.hart.spin_seen) {
    run.spin_period = kSpinSampleShortest;
    run.spin_probe_until = 0;
    run.spin_sample_at = now;
    UpdateTarget(run);
  } else if (exit == BlockExit::kPause) {
    run.spin_period = std::min(2 * run.spin_period, kSpinSampleLongest);
    run.spin_probe_until = 0;
  } else if (now >= run.spin_probe_until) {
    run.spin_period = std::min(2 * run.spin_period, kSpinSampleLongest);
  }
}

// kContinue: the page is this hart's now (run the instruction at once).
Machine::Step Machine::OwnershipFault(HartRun& run) {
  Hart& hart = run.hart;
  const uint32_t id = hart.id();
  switch (crew_->Request(id, run.ownership_fault.page, run.ownership_fault.write, hart.instret)) {
    case crew::Grant::kGranted: return Step::kContinue;
    case crew::Grant::kStopped: return Step::kDone;
    case crew::Grant::kPending: break;
  }
  // The holder runs on another thread: it usually answers within a block.
  if (scheduler_.thread_count() > 1) {
    for (int i = 0; i < kSpinBeforeWaiting && crew_->Pending(id); ++i) CpuRelax();
    if (!crew_->Pending(id)) {
      switch (crew_->Resume(id)) {
        case crew::Grant::kGranted: return Step::kContinue;
        case crew::Grant::kStopped: return Step::kDone;
        case crew::Grant::kPending: break;
      }
    }
  }
  return Wait(run, HartWait::kPage);
}

template <bool kSpinProbe>
BlockExit Machine::Execute(HartRun& run, Block& block, const DecodedInsn* insns, uint64_t limit) {
  Hart& hart = run.hart;
  if (crew_) {
    const CrewAccessCheck policy(crew_->Permissions(hart.id()), static_cast<unsigned>(std::countr_zero(options_.crew_granularity)),
                                 ram_.size(), crew_device_page_, run.ownership_fault);
    return ExecuteBlocks<CrewAccessCheck, kSpinProbe>(hart, policy, block, insns, limit);
  }
  if (gate_) return ExecuteBlocks<GatePublish, kSpinProbe>(hart, GatePublish(*gate_, hart.id()), block, insns, limit);
  return ExecuteBlocks<NoAccessCheck, kSpinProbe>(hart, NoAccessCheck{}, block, insns, limit);
}

Machine::Step Machine::HandleAttention(HartRun& run, uint32_t bits) {
  if ((bits & kAttentionStop) != 0 || stopping()) return Step::kDone;
  Hart& hart = run.hart;
  if ((bits & kAttentionCrew) != 0 && crew_) PollCrew(run);
  if ((bits & kAttentionFlushCode) != 0) hart.blocks.Clear();
  if ((bits & kAttentionGate) != 0) UpdateTarget(run);  // a waiter needs a count from this hart
  if ((bits & kAttentionImageCut) != 0 && world_.DeliversLiveInterrupts()) {
    // A state image was asked for (RequestStateImage): hart 0 starts a cut where it stands,
    // as at a scheduled one (only hart 0 starts cuts, so never two at once); the log gets a
    // checkpoint there like any other.
    StartCut();
    const Step step = JoinCut(run);
    if (step != Step::kContinue) {
      hart.NoteAttention(bits & (kAttentionInterrupt | kAttentionSerial));
      return step;
    }
  }
  if ((bits & kAttentionPause) != 0) {
    const Step step = JoinCut(run);
    if (step != Step::kContinue) {
      // What it has not handled yet waits for the next slice.
      hart.NoteAttention(bits & (kAttentionInterrupt | kAttentionSerial));
      return step;
    }
  }
  if ((bits & kAttentionInterrupt) != 0) interrupts_->AttentionRaised(run);
  if ((bits & kAttentionSample) != 0 && host_time_ && !run.sleeping) {
    host_time_->Sample(hart.LandmarkAt(hart.instret), replay::VcpuActivity::kRunning);
  }
  if ((bits & kAttentionSerial) != 0 && serializer_ && serializer_->MustStop(hart.id())) {
    // Serialized record: it joins a group where it stands, and runs only when its turn comes.
    ParkCrew(run);
    serializer_->Stopped(hart.id(), hart.instret, !run.sleeping);
    run.turn_held = false;
    return Wait(run, HartWait::kTurn);
  }
  return stopping() ? Step::kDone : Step::kContinue;
}

Machine::Step Machine::Sleep(HartRun& run) {
  switch (interrupts_->WhileAsleep(run)) {
    case InterruptSource::Asleep::kWoken:
      return Step::kContinue;
    case InterruptSource::Asleep::kLogEnded:
      return FinishHart(run);
    case InterruptSource::Asleep::kWaitForAttention:
      // Until a timer, another hart, a cut or the stop raises this hart's attention (which
      // runs it again). Parked, so that CREW takes this hart's pages without waiting for it;
      // serialized, its turn goes to another member meanwhile (it may have been given it
      // while asleep).
      if (serializer_ && serializer_->InGroup(run.hart.id())) {
        serializer_->EndTurn(run.hart.id(), run.hart.instret, crew::Serializer::Why::kIdle);
        run.turn_held = false;
      }
      ParkCrew(run);
      if (run.hart.attention.load(std::memory_order_acquire) != 0) return Step::kContinue;
      return Wait(run, HartWait::kSleep);
  }
  return Step::kContinue;
}

// A pause retired, or the executor saw the hart spin: it waits for another hart. What it
// does before its next instruction is invisible to the guest, so this only decides who
// gets the threads. SMP record: off its thread, parked, until CREW takes one of its pages
// (what it spins on in RAM cannot change before that), an attention bit, or
// kSpinWaitTimeout (for spins on the clock or a device); in serialized mode, a holder first
// lets another member run. Plain runs and replay: it gives its thread to a hart that waits
// for one, or, when none does, its core to whatever else the host runs.
Machine::Step Machine::SpinWait(HartRun& run) {
  if (harts_.size() == 1) return Step::kContinue;
  const uint32_t id = run.hart.id();
  if (serializer_ && run.turn_held && serializer_->InGroup(id)) {
    if (!serializer_->EndTurn(id, run.hart.instret, crew::Serializer::Why::kIdle)) run.turn_held = false;
  }
  if (!crew_) {
    if (scheduler_.OthersWaiting()) return Step::kYield;
    sched_yield();  // every hart has a thread: let the host run another on this core
    return Step::kContinue;
  }
  ParkCrew(run, crew::ParkReason::kSpinWait);
  // Parking set the attention bit when this hart gave a page up since it last parked: the
  // value it spins on may have changed already.
  if (run.hart.attention.load(std::memory_order_acquire) != 0) return Step::kContinue;
  scheduler_.WakeAfter(id, kSpinWaitTimeout);
  return Wait(run, HartWait::kSpin, crew::ParkReason::kSpinWait);
}

// Serialized record: the hart executes from here on, free or holding its group's turn.
// Having left a group, it first gives up the pages it shared there; holding a turn, its
// first write of each page it shares faults once, which tells the members spinning on it
// (and a parked holder unparks in the same call: one CREW lock per turn the fewer).
void Machine::StartTurn(HartRun& run) {
  const uint32_t id = run.hart.id();
  if (serializer_->TakeLeft(id)) crew_->Unshare(id, run.hart.instret);
  if (!serializer_->InGroup(id)) return;
  if (run.crew_parked) {
    crew_->UnparkForTurn(id);
    run.crew_parked = false;
  } else {
    crew_->BeginTurn(id);
  }
}

// SMP record: serve other harts' page requests. CREW defers those for pages this hart
// gained less than options_.crew_hold_instructions ago (the hold keeps two harts writing
// one page from trading it at every write, each trade costing microseconds) and says at
// which count to come back.
void Machine::PollCrew(HartRun& run) {
  run.crew_poll_at = crew_->Poll(run.hart.id(), run.hart.instret);
  UpdateTarget(run);
}

void Machine::UpdateTarget(HartRun& run) {
  const uint32_t id = run.hart.id();
  const uint64_t now = run.hart.instret;
  if (!world_.DeliversLiveInterrupts() && LogMayHaveNews(run)) RefreshFromLog(run);
  uint64_t logged = std::min({run.final_count, cut_schedule_.next(id), run.horizon, run.switch_at});
  if (gate_) logged = std::min(logged, gate_->NextWaitCount(id));
  if (follower_) logged = std::min(logged, follower_->NextStop(id));
  if (run.next_interrupt.has_value()) logged = std::min(logged, run.next_interrupt->count);
  run.logged_target = logged;
  uint64_t target = std::min({logged, run.crew_poll_at, run.slice_end, run.spin_sample_at});
  if (serializer_ && run.turn_held) target = std::min(target, serializer_->TurnEnd(id));
  if (gate_) {
    // A hart that waits for this one to get somewhere: wake it now if it is there already.
    if (gate_->WakeCount(id) <= now) gate_->Reached(id, now);
    const uint64_t wake = gate_->WakeCount(id);
    if (wake > now) target = std::min(target, wake);
  }
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
  run.refreshed_horizon = run.horizon;
  run.refreshed_interrupt = run.next_interrupt.has_value();
}

// Whether RefreshFromLog could learn anything (each of its looks takes a lock, and a
// serialized replay computes its target several times per turn, every few dozen
// instructions). What it read last came with a horizon: every record of the hart below it
// had been read, and its looks came after; so until the horizon moves, the hart reaches
// it, or the hart took the interrupt it knew of (TakeScheduled fetched the next one, or
// none), nothing below the horizon is news.
bool Machine::LogMayHaveNews(const HartRun& run) {
  const uint32_t id = run.hart.id();
  return !run.refreshed_horizon.has_value() || *run.refreshed_horizon != world_.Horizon(id) ||
         run.hart.instret >= *run.refreshed_horizon || run.next_interrupt.has_value() != run.refreshed_interrupt;
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

// The hart is at run.target: serve deferred CREW requests, end its slice or its turn, join
// a cut, process its serialized-mode records, wait at its replay gate, take a scheduled
// interrupt, stop, or (replay) go live or read on in the log. In that order when they coincide, with two exceptions: an interrupt
// or a serialized-mode record the recording took before that cut (a hart woken from wfi
// joins cuts without retiring anything, and a hart stopped for its turn joins them where
// it stopped, so both can fall on one count; the log's order says which came first). A
// cut comes before the gate because the recorded cut was consistent: every hart reaches
// its cut count without anyone passing theirs, whereas the gate's predecessor may itself
// be paused at the cut below the count this hart waits for. The turn comes before the gate
// because a hart faults only in its turn: the edge into it was made after its turn began.
Machine::Step Machine::ReachTarget(HartRun& run) {
  Hart& hart = run.hart;
  const uint32_t id = hart.id();
  const uint64_t now = hart.instret;
  if (gate_) gate_->Reached(id, now);
  if (now >= run.crew_poll_at) {
    PollCrew(run);
    return Step::kContinue;  // whatever else falls on this count comes next
  }
  if (now >= run.spin_sample_at) {
    run.spin_sample_at = now + run.spin_period;
    run.spin_probe_until = now + kSpinProbeWindow;
    UpdateTarget(run);
    return Step::kContinue;
  }
  if (now >= run.slice_end) {
    run.slice_end = now + SliceLength();
    UpdateTarget(run);
    if (!scheduler_.OthersWaiting()) return Step::kContinue;
    ParkCrew(run);
    return Step::kYield;
  }
  if (serializer_ && run.turn_held && now >= serializer_->TurnEnd(id)) {
    if (!serializer_->EndTurn(id, now, crew::Serializer::Why::kQuantum)) {
      // Another member has the turn. Not Wait(kTurn) here: an attention bit may be pending
      // whose wake-up this slice has consumed already (a cut that waits for this hart), and
      // it is seen only in the loop, which asks for the turn again after attention.
      run.turn_held = false;
      ParkCrew(run);
      UpdateTarget(run);
      return Step::kContinue;
    }
    StartTurn(run);  // a new quantum, or free again
    UpdateTarget(run);
    return Step::kContinue;
  }
  const uint64_t cut_at = cut_schedule_.next(id);
  const bool interrupt_now = run.next_interrupt.has_value() && now == run.next_interrupt->count;
  const bool turn_now = follower_ && now == follower_->NextStop(id);
  Step step = Step::kContinue;
  if (interrupt_now && now == cut_at && run.next_interrupt->checkpoints_before <= cut_.completed()) {
    interrupts_->TakeScheduled(run);
  } else if (turn_now && (now != cut_at || follower_->NextCheckpointsBefore(id) <= cut_.completed())) {
    step = FollowTurns(run, false);
    if (step != Step::kContinue) return step;
  } else if (now == cut_at) {
    if (cut_schedule_.Reached(id)) StartCut();
    step = JoinCut(run);
    if (stopping()) return Step::kDone;
    if (step != Step::kContinue) return step;
  } else if (gate_ && now == gate_->NextWaitCount(id)) {
    if (!gate_->TryPass(id, now)) return Wait(run, HartWait::kGate);
  } else if (interrupt_now) {
    interrupts_->TakeScheduled(run);
  } else if (now >= run.final_count) {
    return FinishHart(run);
  } else if (now >= run.switch_at) {
    return JoinSwitch(run);
  } else if (now >= run.horizon) {
    world_.Advance(id, now);
    if (stopping()) return Step::kDone;
  } else if (now > run.logged_target) {
    throw std::runtime_error("hart " + std::to_string(id) + " passed its target count " +
                             std::to_string(run.logged_target) + " (at " + std::to_string(now) + ")");
  }
  UpdateTarget(run);
  return Step::kContinue;
}

// Replay: the hart's serialized-mode records at its count, and whether it holds its turn.
// A member without the turn waits for it only `before_executing`: where it stands it may
// still have to join a cut or stop for good, as it did in the recording.
Machine::Step Machine::FollowTurns(HartRun& run, bool before_executing) {
  const uint32_t id = run.hart.id();
  const uint64_t now = run.hart.instret;
  const uint64_t cuts = cut_.completed();
  switch (follower_->TryPass(id, now, cuts)) {
    case crew::TurnFollower::Pass::kGo:
      run.turn_held = true;
      return Step::kContinue;
    case crew::TurnFollower::Pass::kCutFirst: {
      // The record was logged after the next cut, so that cut was read before it; the
      // schedule may not show it yet when another hart's thread read it just now. Once it
      // does, the hart's target is here, and ReachTarget joins the cut before the record.
      cut_schedule_.Refresh();
      const uint64_t cut_at = cut_schedule_.next(id);
      if (cut_at != now) {
        throw crew::InvalidSerialLog("vcpu " + std::to_string(id) + "'s serialized-mode record @ " + std::to_string(now) +
                                     " was logged after checkpoint " + std::to_string(cuts + 1) + ", which has the vCPU " +
                                     (cut_at == replay::kNever ? std::string("nowhere") : "@ " + std::to_string(cut_at)) +
                                     " (a damaged log)");
      }
      UpdateTarget(run);
      return Step::kContinue;
    }
    case crew::TurnFollower::Pass::kWaitRecord:
      return Wait(run, HartWait::kTurn);
    case crew::TurnFollower::Pass::kWaitTurn:
      run.turn_held = false;
      return before_executing ? Wait(run, HartWait::kTurn) : Step::kContinue;
  }
  return Step::kContinue;
}

// The hart stops for good; the machine stops once every hart has.
Machine::Step Machine::FinishHart(HartRun& run) {
  run.done = true;
  if (stop_.VcpuFinished() == hart_count()) {
    if (stop_.exit().has_value()) {
      Stop(machine::Outcome::kExited, "");
    } else if (options_.stop_at.empty() && !world_.DeliversLiveInterrupts() && !world_.FinalLandmarksEndAnIncompleteLog()) {
      // A complete log ends with the guest's exit, so every hart at its recorded end without
      // it is a divergence (the kvm engine says the same). Before, this was "reached counts",
      // compared with nothing: a replay that lost its console output passed `verify`.
      Diverged(replay::ExitNotReached(run.hart.LandmarkAt(run.hart.instret)));
    } else {
      Stop(machine::Outcome::kReachedCounts, "");
    }
  }
  return Step::kDone;
}

// No hart can run, and nothing inside the machine will change that. Replay: the log cannot
// be followed (a transfer edge or a turn altered). A live machine waits for its timer and
// devices, unless every hart waits for another hart: a bug in rrkit, reported as one.
void Machine::AllBlocked() {
  if (stopping()) return;
  std::ostringstream report;
  bool waits_for_harts = true;
  for (const auto& r : runs_) {
    report << "\n  vcpu " << r->hart.id() << " @ " << r->hart.instret << ": ";
    switch (r->wait) {
      case HartWait::kNone: report << (r->done ? "finished" : "ready"); break;
      case HartWait::kPage: report << "waiting for a CREW page"; break;
      case HartWait::kCut: report << "waiting at a checkpoint cut"; break;
      case HartWait::kGate: report << "waiting for a transfer edge's predecessor"; break;
      case HartWait::kSwitch: report << "waiting at the end of the log for the others, to go live"; break;
      case HartWait::kTurn: {
        const std::string why = follower_ ? follower_->Describe(r->hart.id()) : "";
        report << (why.empty() ? "waiting for its serialized group's turn" : why);
        break;
      }
      case HartWait::kSpin: report << "spinning"; waits_for_harts = false; break;
      case HartWait::kSleep: report << "asleep in wfi"; waits_for_harts = false; break;
    }
  }
  if (world_.DeliversLiveInterrupts()) {
    if (waits_for_harts) Stop(machine::Outcome::kHostError, "every hart waits for another one:" + report.str());
    return;
  }
  const HartRun& first = *runs_.front();
  std::string detail = report.str();
  if (gate_) detail = gate_->Stalled("every hart waits").ToString() + "\n  turns:" + detail;
  Diverged(replay::Divergence{first.hart.LandmarkAt(first.hart.instret), "transfer order", "every hart progressing",
                              "CREW replay cannot progress: every hart waits" + detail});
}

}  // namespace rrkit::emu
