// The emu machine: RAM, the board's devices, and 1..8 harts, each on its own host thread.
//
// The machine owns everything that crosses harts: the stop request, consistent cuts
// (every hart paused at an instruction boundary, for checkpoints), the timer thread that
// raises MTIP as host time passes mtimecmp, and the World through which every value from
// outside passes.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "crew/crew.h"
#include "crew/replay_gate.h"
#include "crew/transfer_edge.h"
#include "emu/access_policy.h"
#include "emu/clint.h"
#include "emu/console.h"
#include "emu/device.h"
#include "emu/executor.h"
#include "emu/hart.h"
#include "emu/memory.h"
#include "emu/system_device.h"
#include "emu/test_finisher.h"
#include "emu/uart.h"
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
  ConsoleOutput::Mode console = ConsoleOutput::Mode::kStdout;
  std::chrono::milliseconds timeout{0};  // 0 = none
  // SMP record: CREW page ownership with pages of this many bytes, each transfer edge
  // handed to `crew_sink` (under CREW's lock: it must be quick). 0 = off.
  uint64_t crew_granularity = 0;
  crew::TransferSink crew_sink;
  // SMP record: a hart keeps a page it gained for this many of its instructions before
  // serving requests for it (Crew's hold); 0 serves them at its next block boundary. The
  // record session sets it (default: CREW_DEFAULT_HOLD in src/smp/crew-options.ts).
  uint64_t crew_hold_instructions = 0;
  // SMP replay: each hart waits at the recorded transfer edges, which whoever reads the
  // log hands to replay_gate() as it reads them.
  bool follow_crew_edges = false;
  std::chrono::milliseconds crew_stall_timeout{3000};
};

struct HartFinal {
  uint64_t instret = 0;
  uint64_t pc = 0;
  uint64_t register_hash = 0;
};

struct RunResult {
  enum class Outcome {
    kExited,           // the guest wrote the test finisher
    kReachedCounts,    // every hart reached its stop_at / final landmark
    kFault,            // a guest error the guest did not handle; `error` says which
    kTimeout,          // options.timeout passed
    kHostError,        // rrkit failed
    kDiverged,         // replay: the guest did not follow the log; `divergence` says where
    kLogDamaged,       // replay: the log is damaged where the replay reached; `error` says where
  };
  Outcome outcome = Outcome::kExited;
  int exit_code = 0;
  replay::Landmark exit_at;
  std::string error;
  std::optional<replay::Divergence> divergence;  // kDiverged only
  std::vector<HartFinal> harts;
  uint64_t memory_hash = 0;
  uint64_t state_hash = 0;
  double wall_seconds = 0;
  std::string console;  // ConsoleOutput::Mode::kCapture only
};

// An image to load: segments copied into RAM, and where every hart starts.
struct BootImage {
  struct Segment {
    uint64_t addr;
    std::vector<uint8_t> bytes;  // file bytes; the rest of memsz is zero already
  };
  uint64_t entry = 0;
  std::vector<Segment> segments;
};

class Machine final : private BoardEvents {
 public:
  Machine(const MachineOptions& options, replay::World& world, ConsoleInput input, const BootImage& image);
  ~Machine() override;
  Machine(const Machine&) = delete;
  Machine& operator=(const Machine&) = delete;

  // Runs every hart on its own thread until the machine stops. Call once.
  RunResult Run();

  // Instructions retired by all harts so far, as each last published them, for progress
  // reports from another thread while Run() runs (then asks each hart to publish anew:
  // a running hart can chain blocks for a long time without passing its run loop).
  uint64_t RetiredSoFar();

  // --- what harts use ---------------------------------------------------------------------
  GuestRam& ram() { return ram_; }
  replay::World& world() { return world_; }
  Clint& clint() { return clint_; }
  uint32_t hart_count() const { return static_cast<uint32_t>(harts_.size()); }

  // Device access for addresses outside RAM. False: no device there (access fault).
  bool MmioLoad(Hart& hart, uint64_t addr, unsigned size, uint64_t count, uint64_t& value);
  bool MmioStore(Hart& hart, uint64_t addr, unsigned size, uint64_t value, uint64_t count);
  // A store hit a code line: every hart drops its decoded blocks at its next block boundary.
  void CodeModified();

  // SMP replay with follow_crew_edges: where the recorded edges go. Null otherwise.
  crew::ReplayGate* replay_gate() { return gate_.get(); }

 private:
  struct HartRun;  // per-hart scheduling state (targets, sleeping), see machine.cc

  // BoardEvents
  void SoftwareInterruptChanged(uint32_t hart) override;
  void TimerCompareChanged(uint32_t hart) override;
  void ExitRequested(replay::Landmark at, int code) override;

  void HartMain(uint32_t index);
  void RunHart(HartRun& run);
  bool HandleAttention(HartRun& run, uint32_t bits);
  void EvaluateLiveInterrupts(HartRun& run);
  bool ReachTarget(HartRun& run);
  void FinishHart(HartRun& run);
  void TakeScheduledInterrupt(HartRun& run);
  void UpdateTarget(HartRun& run);
  bool FinalCountsKnown();
  void RefreshFromLog(HartRun& run);
  void Sleep(HartRun& run);
  void SpinWait(HartRun& run);
  void PollCrew(HartRun& run);
  void ExecuteOneBlock(HartRun& run);
  BlockExit Execute(HartRun& run, Block& block, const DecodedInsn* insns);

  // Consistent cuts.
  void StartCut();
  uint64_t CutsCompleted();
  void ArriveAtCut(HartRun& run);
  replay::Checkpoint CaptureState();

  void TimerThread();

  // Stops every hart: `outcome` kExited for a guest exit, anything else for an abort.
  void Stop(RunResult::Outcome outcome, std::string error);
  // Stops with kDiverged, keeping the first divergence's report.
  void Diverged(const replay::Divergence& divergence);
  bool stopping() const { return stopping_.load(std::memory_order_acquire); }

  MachineOptions options_;
  replay::World& world_;
  const bool live_interrupts_;
  GuestRam ram_;
  MachineClock clock_;
  ConsoleOutput console_out_;
  ConsoleInput console_in_;
  Clint clint_;
  Uart uart_;
  SystemDevice system_device_;
  TestFinisher finisher_;

  // SMP ordering: CREW when recording several harts, the replay gate when replaying them.
  std::unique_ptr<crew::Crew> crew_;
  uint64_t crew_device_page_ = 0;
  std::unique_ptr<crew::ReplayGate> gate_;

  std::vector<std::unique_ptr<Hart>> harts_;
  std::vector<std::unique_ptr<HartRun>> runs_;
  // Where every hart stops: options.stop_at, or in replay the log's stop record once read.
  std::optional<std::vector<uint64_t>> final_counts_;

  // Stop state (first stop wins).
  std::mutex stop_mutex_;
  std::condition_variable stop_cv_;
  std::atomic<bool> stopping_{false};
  RunResult::Outcome outcome_ = RunResult::Outcome::kExited;
  std::string error_;
  std::optional<replay::Divergence> divergence_;
  std::optional<std::pair<replay::Landmark, int>> exit_;
  uint32_t harts_finished_ = 0;

  // Consistent cut state.
  std::mutex cut_mutex_;
  std::condition_variable cut_cv_;
  bool cut_active_ = false;
  uint32_t cut_arrived_ = 0;
  uint64_t cut_generation_ = 0;
  std::optional<replay::Checkpoint> scheduled_cut_;  // replay: each hart's cut count

  // Timer thread (live interrupts only).
  std::mutex timer_mutex_;
  std::condition_variable timer_cv_;
  std::array<bool, kMaxHarts> timer_fired_{};
  bool timer_quit_ = false;
};

}  // namespace rrkit::emu
