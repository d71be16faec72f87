#include "emu/machine.h"

#include <thread>

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

}  // namespace

Machine::Machine(const MachineOptions& options, replay::World& world, machine::ConsoleInput input, const BootImage& image)
    : options_(options),
      world_(world),
      ram_(options.ram_bytes),
      board_(options.harts, world, *this, options.console, std::move(input)),
      stop_([this] { WakeAll(); }, "instruction"),
      cut_(options.harts),
      switch_cut_(options.harts),
      cut_schedule_(CutScheduleFor(options, world)) {
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
    gate_ = std::make_unique<crew::ReplayGate>(options.harts, crew::ReplayGate::Options{options.crew_stall_timeout});
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
  // RAM, then one more page for the ordered devices (access_policy.h).
  const uint64_t g = options_.crew_granularity;
  crew_device_page_ = (options_.ram_bytes + g - 1) / g;
  std::vector<crew::VcpuHooks> hooks;
  for (const auto& hart : harts_) {
    std::atomic<uint32_t>* attention = &hart->attention;
    hooks.push_back({attention, kAttentionCrew, [attention] { FutexWakeAll(*attention); }});
  }
  crew_ = std::make_unique<crew::Crew>(crew::PageGeometry(kRamBase, (crew_device_page_ + 1) * g, g), std::move(hooks),
                                       options_.crew_sink, options_.crew_hold_instructions);
}

// --- the run ---------------------------------------------------------------------------

machine::RunResult Machine::RunUntilStopped() {
  const auto started = std::chrono::steady_clock::now();
  interrupts_->Start();
  // SIGINT/SIGTERM: stopped like a timeout (a recording's log sealed, incomplete).
  const machine::InterruptibleRun interruptible([this] { Stop(machine::Outcome::kInterrupted, "the run was interrupted"); });
  if (host_time_) host_time_->Start();
  std::vector<std::thread> threads;
  for (uint32_t i = 0; i < harts_.size(); ++i) threads.emplace_back([this, i] { HartThread(i); });
  stop_.WaitForThreads(hart_count(), options_.timeout);
  for (auto& thread : threads) thread.join();
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

void Machine::JoinSwitch(HartRun& run) {
  switch_cut_.Arrive([this] {
    try {
      GoLive();
    } catch (const std::exception& e) {
      Stop(machine::Outcome::kHostError, std::string("going live at the end of the log: ") + e.what());
    }
  });
  UpdateTarget(run);
}

// Every hart is paused at its last landmark in the log: from here the machine runs as a
// plain run or a recording does. The guest saw the recording's clock; host time goes on
// from the latest value it read.
void Machine::GoLive() {
  world_.GoLive();
  board_.clock().ContinueFrom(board_.clint().LatestMtime());
  std::vector<Hart*> harts;
  for (const auto& hart : harts_) harts.push_back(hart.get());
  interrupts_ = std::make_unique<LiveInterrupts>(world_, board_.clint(), board_.clock(), std::move(harts));
  interrupts_->Start();
  cut_schedule_.GoLive(options_.checkpoint_interval, harts_[0]->instret);
  gate_.reset();
  if (options_.crew_granularity != 0 && harts_.size() > 1) StartCrew();
  for (auto& run : runs_) {
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

// SMP record: while a hart blocks at the cut, CREW takes its pages without its help.
void Machine::JoinCut(HartRun& run) {
  const machine::HostTimeSamples::Stall stall(host_time_.get(), run.hart.LandmarkAt(run.hart.instret), replay::VcpuActivity::kCut);
  const ParkedIfCrew parked(crew_.get(), run.hart);  // before the cut's lock: CREW's lock is never held around it
  cut_.Arrive([this] {
    // The last to arrive: every hart is paused at an instruction boundary.
    try {
      world_.CheckpointTaken(CaptureState());
    } catch (const replay::Divergence& d) {
      Diverged(d);
    }
    cut_schedule_.Completed();
  });
  UpdateTarget(run);
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
