#include "emu/machine.h"

#include <thread>

#include "emu/live_interrupts.h"
#include "emu/logged_interrupts.h"
#include "emu/ram_hash.h"
#include "emu/state_hash.h"
#include "machine/run_interrupts.h"

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
      cut_schedule_(CutScheduleFor(options, world)) {
  for (const auto& segment : image.segments) ram_.Write(segment.addr, segment.bytes);

  final_counts_ = world_.FinalLandmarks();
  if (!final_counts_.has_value() && !options.stop_at.empty()) final_counts_ = options.stop_at;
  if (final_counts_.has_value()) final_counts_->resize(options.harts, replay::kNever);

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
    interrupts_ = std::make_unique<LoggedInterrupts>(world_, final_counts_.has_value());
  }
  for (auto& run : runs_) run->next_interrupt = interrupts_->NextScheduled(run->hart.id());

  if (options.crew_granularity != 0 && options.harts > 1) {
    if (options.crew_edges.has_value()) throw std::invalid_argument("CREW records; a replay follows the recorded edges instead");
    // RAM, then one more page for the ordered devices (access_policy.h).
    const uint64_t g = options.crew_granularity;
    crew_device_page_ = (options.ram_bytes + g - 1) / g;
    std::vector<crew::VcpuHooks> hooks;
    for (const auto& hart : harts_) {
      std::atomic<uint32_t>* attention = &hart->attention;
      hooks.push_back({attention, kAttentionCrew, [attention] { FutexWakeAll(*attention); }});
    }
    crew_ = std::make_unique<crew::Crew>(crew::PageGeometry(kRamBase, (crew_device_page_ + 1) * g, g),
                                         std::move(hooks), options.crew_sink, options.crew_hold_instructions);
  }
  if (options.crew_edges.has_value() && options.harts > 1) {
    // Validates the edges against the harts and their final landmarks (throws
    // crew::InvalidEdgeLog before anything runs).
    gate_ = std::make_unique<crew::ReplayGate>(options.harts, *options.crew_edges, final_counts_,
                                               crew::ReplayGate::Options{options.crew_stall_timeout});
  }
}

Machine::~Machine() = default;

// --- the run ---------------------------------------------------------------------------

machine::RunResult Machine::RunUntilStopped() {
  const auto started = std::chrono::steady_clock::now();
  interrupts_->Start();
  // SIGINT/SIGTERM: stopped like a timeout (a recording's log sealed, incomplete).
  const machine::InterruptibleRun interruptible([this] { Stop(machine::Outcome::kInterrupted, "the run was interrupted"); });
  std::vector<std::thread> threads;
  for (uint32_t i = 0; i < harts_.size(); ++i) threads.emplace_back([this, i] { HartThread(i); });
  stop_.WaitForThreads(hart_count(), options_.timeout);
  for (auto& thread : threads) thread.join();
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

// --- consistent cuts ---------------------------------------------------------------------

void Machine::StartCut() {
  for (const auto& hart : harts_)
    if (hart->id() != 0) hart->RaiseAttention(kAttentionPause);
}

// SMP record: while a hart blocks at the cut, CREW takes its pages without its help.
void Machine::JoinCut(HartRun& run) {
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
  if (crew_) crew_->Stop();   // harts waiting for a page give up
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
  // Replaying to final landmarks: the other harts still run to theirs.
  if (!final_counts_.has_value()) Stop(machine::Outcome::kExited, "");
}

}  // namespace rrkit::emu
