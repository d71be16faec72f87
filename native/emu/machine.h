// The emu machine: RAM, the board, and 1..kMaxHarts harts, run M:N by a pool of host
// threads no larger than the host's cores (machine/vcpu_scheduler.h).
//
// The machine composes what crosses harts: the stop protocol and consistent cuts
// (native/machine/, shared with other engines), where interrupts come from (an
// InterruptSource: live or logged), SMP ordering (CREW and the serializer when recording
// several harts, the replay gate and the turn follower when replaying them), and the World
// through which every value from outside passes. machine.cc builds and runs it;
// run_loop.cc is what a hart does with a thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "crew/crew.h"
#include "crew/replay_gate.h"
#include "crew/serial_records.h"
#include "crew/serializer.h"
#include "crew/transfer_edge.h"
#include "crew/turn_follower.h"
#include "emu/board.h"
#include "emu/boot_image.h"
#include "emu/executor.h"
#include "emu/hart.h"
#include "emu/hart_run.h"
#include "emu/interrupt_source.h"
#include "emu/memory.h"
#include "emu/state_image.h"
#include "machine/console.h"
#include "machine/consistent_cut.h"
#include "machine/cut_schedule.h"
#include "machine/host_time_samples.h"
#include "machine/run_result.h"
#include "machine/schedule_shuffle.h"
#include "machine/stop_protocol.h"
#include "machine/vcpu_scheduler.h"
#include "replay/world.h"

namespace rrkit::emu {

struct MachineOptions {
  uint32_t harts = 1;
  uint64_t ram_bytes = uint64_t{128} << 20;
  // Record/live: a checkpoint every this many instructions of hart 0 (0 = never).
  uint64_t checkpoint_interval = 0;
  // Stop each hart exactly at this count (empty = run until the guest exits). Replay's
  // FinalLandmarks() takes precedence.
  std::vector<uint64_t> stop_at;
  machine::ConsoleOutput::Mode console = machine::ConsoleOutput::Mode::kStdout;
  std::chrono::milliseconds timeout{0};  // 0 = none
  // SMP record: CREW page ownership with pages of this many bytes, each transfer edge
  // handed to `crew_sink` (under CREW's lock: it must be quick). 0 = off.
  uint64_t crew_granularity = 0;
  crew::TransferSink crew_sink;
  // SMP record: a hart keeps a page it gained for this many of its instructions before
  // serving requests for it (Crew's hold); 0 serves them at its next block boundary. The
  // record session sets it (default: CREW_DEFAULT_HOLD in src/smp/crew-options.ts).
  uint64_t crew_hold_instructions = 0;
  // SMP replay: each hart waits at the recorded transfer edges, and follows the recorded
  // serialized-mode turns, which whoever reads the log hands to replay_gate() and
  // turn_follower() as it reads them.
  bool follow_crew_edges = false;
  std::chrono::milliseconds crew_stall_timeout{3000};
  // SMP record: serialized mode (crew/serializer.h), its records handed to `serial_sink`
  // (under the serializer's lock: it must be quick). Off when the entry rate is 0.
  crew::SerializerOptions serializer;
  crew::SerialSink serial_sink;
  // M:N: host threads that run the harts (0: the host's cores), and the instructions a hart
  // runs before it gives its thread to another that waits for one.
  uint32_t threads = 0;
  uint64_t slice_instructions = 100'000;
  // Nonzero: shuffle the host schedule (machine/schedule_shuffle.h) — slices of random length
  // up to slice_instructions, coin tosses where the schedule may choose. Timing only: a
  // replay must come out the same (rrkit verify --shuffle).
  uint64_t shuffle_seed = 0;
  // Busy-wait detection without the hint (executor.h, the spin probe): timing only, so a
  // log recorded with it replays exactly without it and the other way round.
  bool spin_detection = true;
  // Record with wall-clock samples: each taken by `host_time_sink`, one per hart every
  // `host_time_period` while it runs and at both ends of its stalls (machine/host_time_samples.h).
  machine::HostTimeSamples::Sink host_time_sink;
  std::chrono::microseconds host_time_period{1000};
};

// Where a state image taken at a cut goes (called on the thread of the last hart to
// arrive, every hart paused: it may take its time, the guest waits).
using StateImageSink = std::function<void(StateImage&&)>;

class Machine final : private BoardEvents {
 public:
  Machine(const MachineOptions& options, replay::World& world, machine::ConsoleInput input, const BootImage& image);
  ~Machine() override;
  Machine(const Machine&) = delete;
  Machine& operator=(const Machine&) = delete;

  // Runs the harts on the thread pool until the machine stops; returns how it ended and
  // its final state. Call once.
  machine::RunResult RunUntilStopped();

  // Instructions retired by all harts so far, as each last published them, for progress
  // reports from another thread while the machine runs (then asks each hart to publish
  // anew: a running hart can chain blocks for a long time without passing its run loop).
  uint64_t RetiredSoFar();

  // --- state images (machine_image.cc; emu/state_image.h) ---------------------------------
  // From any thread: take a state image at the first cut whose ordinal (checkpoints this
  // machine took or replayed, counted from the image it was restored from, if any) is at
  // least `from_ordinal` and where no hart is in a serialized group, and hand it to `sink`
  // (without the guest image's hash, which the machine does not know). Replaces an earlier
  // request not yet served. Live, hart 0 starts a cut at once for it (kAttentionImageCut).
  void RequestStateImage(uint64_t from_ordinal, StateImageSink sink);
  // Before RunUntilStopped: the machine goes on from `image`'s cut (its vCPUs, RAM and
  // devices as they were there). Its World must start there too (a replay resuming after
  // the image's checkpoint: ReplayingWorld::Options::resume_after). Throws
  // StateImageError for an image of another shape.
  void RestoreStateImage(const StateImage& image);

  // --- what harts use ---------------------------------------------------------------------
  GuestRam& ram() { return ram_; }
  replay::World& world() { return world_; }
  Board& board() { return board_; }
  uint32_t hart_count() const { return static_cast<uint32_t>(harts_.size()); }
  // A store hit a code line: every hart drops its decoded blocks at its next block boundary.
  void CodeModified();
  // Another thread raised `hart`'s attention: run it if it waits (Hart::RaiseAttention).
  void HartAttention(uint32_t hart) { scheduler_.Wake(hart); }

  // SMP replay with follow_crew_edges: where the recorded edges go. Null otherwise.
  crew::ReplayGate* replay_gate() { return gate_.get(); }
  // ... and where the recorded mode and turn switches go (serialized mode). Null otherwise.
  crew::TurnFollower* turn_follower() { return follower_.get(); }

 private:
  // BoardEvents
  void SoftwareInterruptChanged(uint32_t hart) override;
  void TimerCompareChanged(uint32_t hart) override;
  void ExitRequested(replay::Landmark at, int code) override;

  // --- a hart on a pool thread (run_loop.cc) ---------------------------------------------
  // What a step of the run loop leads to: go on, or end the slice (machine/vcpu_scheduler.h).
  enum class Step { kContinue, kYield, kBlocked, kDone };
  machine::VcpuScheduler::SliceEnd RunSlice(uint32_t index);
  Step Slice(HartRun& run);
  Step Resumed(HartRun& run);
  Step HandleAttention(HartRun& run, uint32_t bits);
  Step ReachTarget(HartRun& run);
  void UpdateTarget(HartRun& run);
  Step FinishHart(HartRun& run);
  Step FollowTurns(HartRun& run, bool before_executing);
  Step Sleep(HartRun& run);
  Step SpinWait(HartRun& run);
  Step Wait(HartRun& run, HartWait why, crew::ParkReason reason = crew::ParkReason::kBlocked);
  Step ResumedWait(HartRun& run);
  void ParkCrew(HartRun& run, crew::ParkReason reason = crew::ParkReason::kBlocked);
  void UnparkCrew(HartRun& run);
  // Replay: what the log has said so far about this hart's next stops.
  void RefreshFromLog(HartRun& run);
  bool LogMayHaveNews(const HartRun& run);
  // Whether every hart's final count is known: stop_at, or the replayed log's stop record.
  bool FinalCountsKnown();
  void PollCrew(HartRun& run);
  void StartTurn(HartRun& run);
  Step ExecuteOneBlock(HartRun& run);
  void EndProbe(HartRun& run, BlockExit exit);
  Step OwnershipFault(HartRun& run);
  template <bool kSpinProbe>
  BlockExit Execute(HartRun& run, Block& block, const DecodedInsn* insns, uint64_t limit);
  void EndHart(HartRun& run);
  // Every hart waits and nothing inside the machine can wake one (scheduler's all_blocked).
  void AllBlocked();

  // --- replay, then live (machine.cc) ----------------------------------------------------
  // The hart is at its last landmark in the log (World::SwitchLandmarks); the last hart to
  // arrive turns the machine live, while every hart is paused there.
  Step JoinSwitch(HartRun& run);
  void GoLive();
  // SMP record: CREW page ownership (at construction, or when a replay goes live).
  void StartCrew();

  // --- consistent cuts (machine.cc) -------------------------------------------------------
  // Hart 0 decided (record/live): ask every other hart to pause at its next boundary.
  void StartCut();
  Step JoinCut(HartRun& run);
  replay::Checkpoint CaptureState();
  // At a cut, every hart paused: a requested image, if this cut may serve it.
  void OfferStateImage(const replay::Checkpoint& cut);
  bool AnyHartSerialized() const;
  StateImage CaptureStateImage(const replay::Checkpoint& cut);

  // --- stop (machine.cc) ------------------------------------------------------------------
  void Stop(machine::Outcome outcome, std::string error) { stop_.Stop(outcome, std::move(error)); }
  void Diverged(const replay::Divergence& divergence) { stop_.Diverged(divergence); }
  bool stopping() const { return stop_.stopping(); }
  // The stop protocol's wake-up: everything that may block gives up.
  void WakeAll();
  // Instructions in a slice: options.slice_instructions, or up to that under a shuffle.
  uint64_t SliceLength() { return shuffle_.on() ? shuffle_.UpTo(options_.slice_instructions) : options_.slice_instructions; }

  MachineOptions options_;
  replay::World& world_;
  GuestRam ram_;
  Board board_;

  // SMP ordering: CREW and the serializer when recording several harts, the replay gate
  // and the turn follower when replaying them.
  std::unique_ptr<crew::Serializer> serializer_;
  std::unique_ptr<crew::Crew> crew_;
  uint64_t crew_device_page_ = 0;
  std::unique_ptr<crew::ReplayGate> gate_;
  std::unique_ptr<crew::TurnFollower> follower_;

  std::vector<std::unique_ptr<Hart>> harts_;
  std::vector<std::unique_ptr<HartRun>> runs_;
  // Where every hart stops: options.stop_at, or in replay the log's stop record once read.
  std::mutex final_counts_mutex_;
  std::optional<std::vector<uint64_t>> final_counts_;

  machine::StopProtocol stop_;
  machine::ConsistentCut cut_;
  machine::ConsistentCut switch_cut_;  // replay then live: where every hart leaves the log
  std::mutex switch_mutex_;
  std::optional<std::vector<uint64_t>> switch_at_;
  machine::CutSchedule cut_schedule_;
  // Cuts taken (or replayed) so far, counted from the restored image's; and the image
  // request waiting for a cut.
  std::atomic<uint64_t> cuts_taken_{0};
  std::mutex image_mutex_;
  std::optional<std::pair<uint64_t, StateImageSink>> image_request_;
  machine::VcpuScheduler scheduler_;
  machine::ScheduleShuffle shuffle_;
  // After harts_: a live source's timer thread raises their attention until it stops.
  std::unique_ptr<InterruptSource> interrupts_;
  // Record --wall-samples only (null otherwise); its ticker raises the harts' attention.
  std::unique_ptr<machine::HostTimeSamples> host_time_;
};

}  // namespace rrkit::emu
