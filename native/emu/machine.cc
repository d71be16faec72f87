#include "emu/machine.h"

#include <algorithm>
#include <stdexcept>

#include "emu/live_interrupts.h"
#include "emu/logged_interrupts.h"
#include "emu/ram_hash.h"
#include "emu/state_hash.h"
#include "machine/run_interrupts.h"
#include "replay/log_error.h"

namespace rrkit::emu {
namespace {

static_assert(replay::kNever == crew::Crew::kNoDeferral, "a count CREW does not ask for is never reached");

// Live and record: cuts every checkpoint_interval instructions of hart 0. Replay: where
// the log's checkpoints were taken.
machine::CutSchedule CutScheduleFor(const MachineOptions& options, replay::World& world) {
  if (world.DeliversLiveInterrupts()) return machine::CutSchedule(options.harts, options.checkpoint_interval);
  return machine::CutSchedule(options.harts, world);
}

uint32_t ThreadsFor(const MachineOptions& options) {
  const uint32_t threads = options.threads != 0 ? options.threads : machine::VcpuScheduler::HostCores();
  return std::max(1u, std::min(threads, std::max(1u, options.harts)));
}

}  // namespace

Machine::Machine(const MachineOptions& options, replay::World& world, machine::ConsoleInput input, const BootImage& image)
    : options_(options),
      world_(world),
      ram_(options.ram_bytes),
      board_(options.harts, world, *this, options.console, std::move(input)),
      stop_([this] { WakeAll(); }, "instruction"),
      cut_(options.harts),
      switch_cut_(options.harts),
      cut_schedule_(CutScheduleFor(options, world)),
      scheduler_(std::max(1u, options.harts), ThreadsFor(options)),
      shuffle_(options.shuffle_seed) {
  if (options.slice_instructions == 0) throw std::invalid_argument("a slice must be at least one instruction");
  for (const auto& segment : image.segments) ram_.Write(segment.addr, segment.bytes);

  // Replay: the log's stop record comes as the harts read the log (FinalCountsKnown).
  if (!options.stop_at.empty()) {
    final_counts_ = options.stop_at;
    final_counts_->resize(options.harts, replay::kNever);
  }

  std::vector<Hart*> harts;
  for (uint32_t id = 0; id < options.harts; ++id) {
    auto hart = std::make_unique<Hart>(id, *this);
    hart->pc = image.entry;
    hart->x[10] = id;  // a0 = mhartid; a1 = 0: no device tree, the rrkit device instead
    auto run = std::make_unique<HartRun>(*hart);
    if (final_counts_.has_value()) run->final_count = (*final_counts_)[id];
    // One hart has nobody to wait for: it never probes. Nor does a replay: a replayed spin
    // runs to the logged count where the recorded one ended, whatever the probe sees, so
    // the probe would only cut it into yields (docs/crew.md, "Busy-waits without the hint").
    if (!options.spin_detection || options.harts == 1 || !world.DeliversLiveInterrupts()) {
      run->spin_sample_at = replay::kNever;
    }
    harts.push_back(hart.get());
    harts_.push_back(std::move(hart));
    runs_.push_back(std::move(run));
  }
  // Interrupts, like cuts (CutScheduleFor), are what depend on the kind of world (replay/world.h).
  if (world_.DeliversLiveInterrupts()) {
    interrupts_ = std::make_unique<LiveInterrupts>(world_, board_.clint(), board_.clock(), std::move(harts));
  } else {
    interrupts_ = std::make_unique<LoggedInterrupts>(world_);
  }

  // SMP record: CREW from the start; a replay going live (then recording) starts it then.
  if (options.crew_granularity != 0 && options.harts > 1 && world_.DeliversLiveInterrupts()) StartCrew();
  if (options.follow_crew_edges && options.harts > 1) {
    // The recorded edges and the serialized-mode records come as the log is read (the
    // binding hands them to replay_gate() and turn_follower()).
    gate_ = std::make_unique<crew::ReplayGate>(options.harts, crew::ReplayGate::Options{options.crew_stall_timeout});
    // Where the log leaves a choice to the host, a shuffled schedule tosses a coin.
    const auto wake = [this](uint32_t v) { scheduler_.Wake(v, !shuffle_.on() || shuffle_.Coin()); };
    gate_->SetWakeHooks({wake, [this](uint32_t v) { harts_[v]->RaiseAttention(kAttentionGate); }});
    follower_ = std::make_unique<crew::TurnFollower>(options.harts);
    follower_->SetWake(wake);
    // At once, not at the slice's end: one kept locked-ring log, recorded before joins
    // pinned their group's holder (docs/crew.md, "Serialized mode"), replays correctly only
    // in that order (test/fixtures/order-dependence).
    follower_->SetHandOver([this](uint32_t v) {
      if (shuffle_.on() && shuffle_.Coin()) scheduler_.HandOver(v);
      else scheduler_.HandOverNow(v);
    });
  }
  if (options.host_time_sink) {
    // No wake-up: a sleeping hart logged its stall as it fell asleep and logs its wake-up.
    host_time_ = std::make_unique<machine::HostTimeSamples>(options.host_time_sink, options.host_time_period, [this] {
      for (const auto& hart : harts_) hart->attention.fetch_or(kAttentionSample, std::memory_order_relaxed);
    });
  }
}

Machine::~Machine() = default;

void Machine::StartCrew() {
  const MachineOptions& options = options_;
  if (options.serializer.enter_transfers_per_million != 0) {
    if (!options.serial_sink) throw std::invalid_argument("serialized mode needs somewhere to write its records");
    serializer_ = std::make_unique<crew::Serializer>(
        options.harts, options.serializer, options.serial_sink,
        crew::SerializerHooks{[this](uint32_t v) { harts_[v]->RaiseAttention(kAttentionSerial); },
                              [this](uint32_t v) { scheduler_.Wake(v, true); },
                              [this](uint32_t v) { scheduler_.HandOver(v); }});
  }
  // RAM, then one more page for the ordered devices (access_policy.h).
  const uint64_t g = options.crew_granularity;
  crew_device_page_ = (options.ram_bytes + g - 1) / g;
  std::vector<crew::VcpuHooks> hooks;
  for (const auto& hart : harts_) {
    const uint32_t v = hart->id();
    hooks.push_back({.attention = &hart->attention,
                     .attention_bit = kAttentionCrew,
                     // A serialized member spinning without the turn: only noted as wanting it.
                     .wake = [this, v] { if (!serializer_ || !serializer_->WantsTurnWhileParked(v)) scheduler_.Wake(v); },
                     .granted = [this, v] { scheduler_.Wake(v, true); }});
  }
  // Transfers among a serialized group's members are implied by its turns: not logged.
  crew::TransferSink sink = options.crew_sink;
  if (serializer_) {
    sink = [this, log = options.crew_sink](const crew::TransferEdge& e) {
      if (serializer_->OnTransfer(e)) log(e);
    };
  }
  crew_ = std::make_unique<crew::Crew>(crew::PageGeometry(kRamBase, (crew_device_page_ + 1) * g, g),
                                       std::move(hooks), std::move(sink), options.crew_hold_instructions);
  // A group's members share its pages while serialized: no transfer per turn.
  if (serializer_ && options.serializer.share_pages) {
    // InGroup first: a fault outside serialized mode takes no serializer lock (the faulting
    // vCPU's own membership cannot change while it executes).
    crew_->ShareWithinTurns({[this](uint32_t requester, uint32_t holder) {
                               return serializer_->InGroup(requester) && serializer_->Shares(requester, holder);
                             },
                             [this](uint32_t v, std::vector<uint32_t>& spinners) { serializer_->WroteShared(v, spinners); }});
  }
}

// --- the run ---------------------------------------------------------------------------

machine::RunResult Machine::RunUntilStopped() {
  const auto started = std::chrono::steady_clock::now();
  interrupts_->Start();
  // SIGINT/SIGTERM: stopped like a timeout (a recording's log sealed, incomplete).
  const machine::InterruptibleRun interruptible([this] { Stop(machine::Outcome::kInterrupted, "the run was interrupted"); });
  if (host_time_) host_time_->Start();
  scheduler_.Start({[this](uint32_t v) { return RunSlice(v); }, [this] { stop_.ThreadEnded(); }, [this] { AllBlocked(); }});
  stop_.WaitForThreads(scheduler_.thread_count(), options_.timeout);
  scheduler_.Join();
  // A hart still waiting when the machine stopped (at a cut, for a page, asleep) never ran
  // again, so EndHart did not sample its stop: its stall ends here, stopped where it waited
  // (here, not in ~Machine: the log is sealed before the machine goes).
  for (const auto& run : runs_) {
    if (run->done) continue;
    if (run->stall) {
      run->stall->EndAs(replay::VcpuActivity::kStopped);
    } else if (host_time_) {
      try {
        host_time_->Sample(run->hart.LandmarkAt(run->hart.instret), replay::VcpuActivity::kStopped);
      } catch (const std::exception&) {
        // The log failed; the run's outcome says so already.
      }
    }
    run->stall.reset();
  }
  if (host_time_) host_time_->Stop();
  interrupts_->Stop();
  board_.console().Flush();

  machine::RunResult result;
  result.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  result.interrupts_taken = interrupts_->taken();
  result.outcome = stop_.outcome();
  result.error = stop_.error();
  result.divergence = stop_.divergence();
  const std::optional<machine::StopProtocol::Exit> exit = stop_.exit();
  if (exit.has_value()) {
    result.exit_at = exit->at;
    result.exit_code = exit->code;
  }
  const replay::Checkpoint final_state = CaptureState();
  StateHasher machine_hash;
  for (const auto& hart : harts_) {
    result.vcpus.push_back({hart->instret, hart->pc, hart->RegisterHash()});
    machine_hash.Add(hart->RegisterHash());
  }
  result.memory_hash = final_state.memory_hash;
  machine_hash.Add(final_state.memory_hash);
  result.state_hash = machine_hash.Finish();
  if (options_.console == machine::ConsoleOutput::Mode::kCapture) result.console = board_.console().Captured();

  if (result.outcome == machine::Outcome::kExited && exit.has_value()) {
    try {
      world_.MachineStopped(result.exit_at, result.exit_code, final_state, board_.console().Digest());
    } catch (const replay::Divergence& d) {
      result.outcome = machine::Outcome::kDiverged;
      result.error = replay::DescribeDivergence(d, "instruction");
      result.divergence = d;
    } catch (const replay::LogError& e) {
      result.outcome = machine::Outcome::kLogDamaged;
      result.error = e.what();
    } catch (const replay::UnreplayableLog& e) {
      result.outcome = machine::Outcome::kLogDamaged;
      result.error = e.what();
    }
  }
  return result;
}

uint64_t Machine::RetiredSoFar() {
  uint64_t total = 0;
  for (uint32_t i = 0; i < runs_.size(); ++i) {
    total += runs_[i]->published.load(std::memory_order_relaxed);
    // No wake-up: a sleeping hart published its count before it slept.
    harts_[i]->attention.fetch_or(kAttentionPublish, std::memory_order_relaxed);
  }
  return total;
}

// --- replay, then live ----------------------------------------------------------------

Machine::Step Machine::JoinSwitch(HartRun& run) {
  std::vector<uint32_t> released;
  const bool last = switch_cut_.TryArrive(
      run.hart.id(),
      [this] {
        try {
          GoLive();
        } catch (const std::exception& e) {
          Stop(machine::Outcome::kHostError, std::string("going live at the end of the log: ") + e.what());
        }
      },
      run.cut_generation, released);
  if (!last) return Wait(run, HartWait::kSwitch);
  for (uint32_t v : released) scheduler_.Wake(v, true);
  if (stopping()) return Step::kDone;
  UpdateTarget(run);
  return Step::kContinue;
}

// Every hart is paused at its last landmark in the log: from here the machine runs as a
// plain run or a recording does. The guest saw the recording's clock; host time goes on
// from the latest value it read.
//
// SMP, recording on: the next log's replay runs the harts from reset with nothing to stop
// one at the switch, and the live part's CREW starts afresh (a first touch logs no edge),
// so one hart's live part could overtake another's last replayed instructions there. A
// checkpoint at the switch orders them: its replay is a cut that every hart joins at its
// own count. After it, every serialized group the log left open leaves serialized mode
// where its members stand (mode switches in the next log, which its replay follows); the
// live part serializes again only if the live serializer decides so.
void Machine::GoLive() {
  std::vector<uint64_t> counts;
  for (const auto& hart : harts_) counts.push_back(hart->instret);
  // Before the world changes: what the log left open, every record of it followed.
  const std::vector<crew::ModeSwitch> leaving = follower_ ? follower_->Leaving(counts) : std::vector<crew::ModeSwitch>{};
  world_.GoLive();
  if (harts_.size() > 1 && options_.crew_sink) world_.CheckpointTaken(CaptureState());
  if (options_.serial_sink) {
    for (const crew::ModeSwitch& m : leaving) options_.serial_sink(m);
  }
  board_.clock().ContinueFrom(board_.clint().LatestMtime());
  std::vector<Hart*> harts;
  for (const auto& hart : harts_) harts.push_back(hart.get());
  interrupts_ = std::make_unique<LiveInterrupts>(world_, board_.clint(), board_.clock(), std::move(harts));
  interrupts_->Start();
  cut_schedule_.GoLive(options_.checkpoint_interval, harts_[0]->instret);
  gate_.reset();
  follower_.reset();
  if (options_.crew_granularity != 0 && harts_.size() > 1) StartCrew();
  for (auto& run : runs_) {
    run->turn_held = true;  // every group left serialized mode
    // Live harts look for spins again (the replay did not: it follows the logged counts).
    if (options_.spin_detection && harts_.size() > 1) run->spin_sample_at = run->hart.instret;
    run->next_interrupt.reset();
    run->horizon = replay::kNever;
    run->switch_at = replay::kNever;
    // A timer may have fallen due, or msip been set, while the log said nothing: look.
    run->hart.RaiseAttention(kAttentionInterrupt);
  }
}

// --- consistent cuts ---------------------------------------------------------------------

void Machine::StartCut() {
  for (const auto& hart : harts_)
    if (hart->id() != 0) hart->RaiseAttention(kAttentionPause);
}

// The hart waits at the cut off its thread (SMP record: parked, so that CREW takes its
// pages without its help) until the last hart arrives, which takes the checkpoint.
Machine::Step Machine::JoinCut(HartRun& run) {
  ParkCrew(run);  // before the cut's lock: CREW's lock is never held around it
  std::vector<uint32_t> released;
  const bool last = cut_.TryArrive(
      run.hart.id(),
      [this] {
        // The last to arrive: every hart is paused at an instruction boundary.
        try {
          const replay::Checkpoint cut = CaptureState();
          world_.CheckpointTaken(cut);
          cuts_taken_.fetch_add(1, std::memory_order_relaxed);
          OfferStateImage(cut);
        } catch (const replay::Divergence& d) {
          Diverged(d);
        } catch (const StateImageError& e) {
          Stop(machine::Outcome::kHostError, e.what());
        }
        cut_schedule_.Completed();
      },
      run.cut_generation, released);
  if (!last) return Wait(run, HartWait::kCut);
  for (uint32_t v : released) scheduler_.Wake(v, true);
  UpdateTarget(run);
  return Step::kContinue;
}

replay::Checkpoint Machine::CaptureState() {
  replay::Checkpoint checkpoint;
  for (const auto& hart : harts_)
    checkpoint.vcpus.push_back({hart->LandmarkAt(hart->instret), hart->RegisterHash()});
  checkpoint.memory_hash = HashRam(ram_);
  return checkpoint;
}

// --- stop ------------------------------------------------------------------------------

void Machine::WakeAll() {
  // An abort: harts waiting for more of the log give up. (A guest's exit needs none: a
  // replaying hart reaches its exit only once the log is read past it, and a finished one
  // waits for nothing; the world must stay readable for the stop record's trailer.)
  const machine::Outcome outcome = stop_.outcome();
  if (outcome != machine::Outcome::kExited && outcome != machine::Outcome::kReachedCounts) world_.Cancel();
  if (crew_) crew_->Stop();   // harts waiting for a page give up
  switch_cut_.Cancel();
  if (gate_) gate_->Cancel();  // ... and so do harts waiting at their gates
  for (const auto& hart : harts_) hart->RaiseAttention(kAttentionStop);
  cut_.Cancel();
  scheduler_.Stop();  // the pool ends after the slices running now
}

// --- board events ------------------------------------------------------------------------

void Machine::CodeModified() {
  ram_.ClearCodeMarks();
  for (const auto& hart : harts_) hart->RaiseAttention(kAttentionFlushCode);
}

void Machine::SoftwareInterruptChanged(uint32_t hart) { interrupts_->SoftwareInterruptChanged(hart); }

void Machine::TimerCompareChanged(uint32_t hart) { interrupts_->TimerCompareChanged(hart); }

void Machine::ExitRequested(replay::Landmark at, int code) {
  if (!stop_.RecordExit(at, code)) return;
  // Replaying to final landmarks: the other harts still run to theirs. (A replaying hart
  // reaches its exit only once the log is read past it: the stop record, if the log has
  // one, is known by now.)
  if (!FinalCountsKnown()) Stop(machine::Outcome::kExited, "");
}

}  // namespace rrkit::emu
