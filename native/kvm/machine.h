// The kvm engine's machine: 1..8 vCPUs in long mode over memfd-backed RAM, the x86_64
// board's devices, and the run loop that drives each vCPU's KVM_RUN on a thread of its own.
//
// A point in a vCPU's run is a landmark: the number of synchronous VM exits it has taken
// (MMIO, I/O, HLT, ...; a kick is not one), plus, with several vCPUs, its CREW faults
// (docs/kvm-smp.md). Everything from the world enters at an exit through the World:
// device reads, the completion of disk reads, and interrupts, which the VMM injects only
// at an exit where the guest can take them — so replay, counting the same landmarks, feeds
// the same values and injects the same interrupts at the same points. One vCPU:
// checkpoints at exits, the memory hash kept current with KVM's dirty-page log.
//
// Several vCPUs: one VM per vCPU over the one memfd, each with its own host mapping, so
// that each vCPU's page rights can differ (SMP recording enforces CREW by host page
// protection, replay follows the recorded transfers; VcpuOrdering). The machine stops
// when a vCPU writes the exit register: every other vCPU stops at its next landmark, so
// that the final state is one replay can reach again (no PMU: a kick stops a vCPU at no
// position replay could find).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "kvm/access_decoder.h"
#include "machine/console.h"
#include "machine/host_time_samples.h"
#include "kvm/devices_page.h"
#include "kvm/disk_device.h"
#include "kvm/disk_image.h"
#include "kvm/elf_image.h"
#include "kvm/guest_memory.h"
#include "kvm/host_clock.h"
#include "kvm/interrupt_controller.h"
#include "kvm/kvm_system.h"
#include "kvm/memory_hash.h"
#include "kvm/page_rights.h"
#include "kvm/periodic_timer.h"
#include "kvm/run_profile.h"
#include "kvm/vcpu.h"
#include "kvm/vcpu_ordering.h"
#include "kvm/vm.h"
#include "machine/run_result.h"
#include "machine/stop_protocol.h"
#include "replay/world.h"

namespace rrkit::kvm {

struct MachineOptions {
  uint32_t vcpus = 1;
  uint64_t ram_bytes = uint64_t{128} << 20;
  // Several vCPUs: bytes per CREW page, in which each vCPU's view of RAM is protected
  // (recording and replay; the log header's).
  uint64_t crew_granularity = kPageBytes;
  // Record/live: a checkpoint every this many exits (0 = never); one vCPU only. Replay:
  // the log decides.
  uint64_t checkpoint_interval = 0;
  // Record and replay on one vCPU: keep the memory hash current between checkpoints with
  // KVM's dirty log, started at the first checkpoint; otherwise hash all of RAM once at the end.
  bool track_memory = false;
  machine::ConsoleOutput::Mode console = machine::ConsoleOutput::Mode::kStdout;
  std::chrono::milliseconds timeout{0};  // 0 = none
  // The disk's size when there is no image file (a replay that takes its bytes from the
  // log); with an image, the image's size.
  uint64_t disk_sectors = 0;
  // Recording: leave the bytes the disk writes into guest memory out of the log; the
  // replay reads them from its own copy of the image (VMware FT's backups read their own
  // disk).
  bool disk_shared = false;
  // Record with wall-clock samples (`rrkit record --wall-samples`): each taken by
  // `host_time_sink`, at the first exit after every `host_time_period` of running and around
  // every longer stretch in the guest, and at both ends of a halt and of a checkpoint
  // (machine/host_time_samples.h). Empty: none.
  machine::HostTimeSamples::Sink host_time_sink;
  std::chrono::microseconds host_time_period{1000};
  // SMP replay: nonzero shuffles where each vCPU thread goes on after a gate (CrewReplay;
  // `rrkit verify --shuffle`). Timing only.
  uint64_t shuffle_seed = 0;
};

// What a kvm run returns: every engine's result (landmarks are exits, and CREW faults),
// and what the board's devices did.
struct RunResult {
  machine::RunResult run;
  uint64_t interrupts = 0;
  uint64_t dma_bytes = 0;
  std::vector<uint64_t> interrupt_delays_ns;  // live and record: due time to delivery, per interrupt
  // From the first KVM_RUN to the stop: the guest's own time, without the VMM's set-up and
  // final state hash.
  double guest_seconds = 0;
  uint64_t crew_faults = 0;  // SMP: stops on protected pages, over all vCPUs
};

// What the machine is told to order its vCPUs with: nothing (a plain run, one vCPU), or
// a factory that gets each vCPU's page protector once the VMs exist.
using OrderingFactory =
    std::function<std::unique_ptr<VcpuOrdering>(const std::vector<PageProtector*>& protectors, const ElfImage& image)>;
// Replay then live on several vCPUs, recording on: the recording's CREW, made when the
// machine goes live (null: going live records nothing, and every vCPU gets all of RAM).
using LiveOrderingFactory = std::function<std::unique_ptr<VcpuOrdering>(const std::vector<PageProtector*>& protectors)>;

class Machine {
 public:
  // `disk` (may be null) must outlive the machine. A replay needs it only when the log
  // left the disk's bytes out. `ordering`: with several vCPUs, recording's CREW or
  // replay's gate (null: a plain run).
  Machine(const KvmSystem& system, const MachineOptions& options, replay::World& world, machine::ConsoleInput input,
          const ElfImage& image, const DiskImage* disk, const OrderingFactory& ordering = {},
          LiveOrderingFactory live_ordering = {});
  ~Machine();
  Machine(const Machine&) = delete;
  Machine& operator=(const Machine&) = delete;

  // Runs the guest, each vCPU on a thread of its own, until it stops. Call once.
  RunResult Run();

  // Landmarks taken so far over all vCPUs (for progress reports from another thread).
  uint64_t ExitsSoFar() const;

  // The console (a replica's engine tags its output with log positions: SetTag).
  machine::ConsoleOutput& console() { return console_out_; }

 private:
  struct Hart;
  // Unwinds a vCPU's run loop: it stops for good at its current landmark.
  struct Finished {};

  void HartThread(Hart& hart);
  void RunLoop(Hart& hart);
  void Timeout();
  void WakeAll();
  bool smp() const { return harts_.size() > 1; }

  // One landmark of `hart` (an exit or a CREW fault): counts it and says whether the vCPU
  // stops there instead (the machine is stopping, or replay reached the recorded end).
  bool ReachLandmark(Hart& hart, bool is_exit_write_to_stop);
  bool HandleMemoryFault(Hart& hart, bool emulation_failure);
  bool HandleRamMmio(Hart& hart);  // an emulated CPL0 access to a protected page (PVM)
  bool AtFault(Hart& hart, std::span<const PageAccess> needed, bool go_on);
  void CheckpointOrStop(Hart& hart, replay::Landmark at);

  // Replay on one vCPU: at each landmark, reads the log on when the run has reached what was read.
  void RefreshFromLog(Hart& hart);
  // Replay on several: before each entry into the guest, reads the vCPU's log one landmark
  // ahead (the recorded stop there, the edges into it, an interrupt), as far as it has come.
  void ReadAhead(Hart& hart);
  // Replay: where the log ends, once it says (the stop record, or the end of an incomplete
  // log), learnt by whichever vCPU reads that far and then read by all (null until then).
  void LearnLogEnd();
  // After reading the log: the run was interrupted or timed out meanwhile (reading stopped).
  void StopIfAsked(Hart& hart);
  // SMP replay, on reaching a landmark: the cuts there — a logged one (where a recording went
  // live: the state compared), then the end of the log when going live now.
  void JoinCutsAt(Hart& hart);
  // Waits until every vCPU has joined or finished; the last runs `last` meanwhile. Throws
  // Finished when the machine stops first.
  void JoinCut(Hart& hart, const std::function<void()>& last);
  // v's landmark in the next logged cut (replay::kNever: none).
  uint64_t NextCutOf(uint32_t v);
  // Every vCPU stopped on reaching its last landmark in the log: the machine goes live.
  void GoLiveTogether();
  // Going live: a disk read the log left in flight is read from the image.
  void StartDiskLive();
  // SMP replay of a log that ended, before the stretch to a vCPU's last landmark in it
  // (VcpuOrdering::ArmEdgesInto).
  void ArmLastLandmark(Hart& hart);
  const std::vector<uint64_t>* Final() const { return final_known_.load(std::memory_order_acquire) ? &*final_ : nullptr; }
  const std::vector<uint64_t>* SwitchAt() const {
    return switch_known_.load(std::memory_order_acquire) ? &*switch_at_ : nullptr;
  }
  // Replay then live, one vCPU: the vCPU has reached the first exit past the end of the log
  // (World::SwitchLandmarks); from this exit on, the devices read the world.
  void GoLive(Hart& hart);
  // At the exit with landmark `at`, before the exit's own access is handled.
  void TakeCheckpointIfDue(Hart& hart, replay::Landmark at);
  void CompleteDiskIfDue(Hart& hart, replay::Landmark at);
  void StartDiskRead(const DiskRequest& request);
  void FinishDiskRequest(Hart& hart, replay::Landmark at, std::vector<uint8_t> data, bool from_shared_disk);
  // After the exit was handled: inject an interrupt if one is due and the guest can take it.
  void DeliverInterrupt(Hart& hart, replay::Landmark at);
  void WaitInHalt(Hart& hart, replay::Landmark at);

  replay::Checkpoint CaptureState(bool final);
  uint64_t CurrentMemoryHash(bool final);
  [[noreturn]] void Fault(Hart& hart, const std::string& why);
  // interruptRuns() asked the run to stop (SIGINT, SIGTERM): outcome interrupted.
  [[noreturn]] void Interrupted(Hart& hart);

  MachineOptions options_;
  replay::World& world_;
  // The world delivers live interrupts (plain run, recording; a replay once it went live:
  // one vCPU on its own thread, several at a cut).
  std::atomic<bool> live_;
  HostClock clock_;
  std::shared_ptr<MemoryFile> memory_file_;
  GuestMemory memory_;  // the VMM's own view of RAM (vCPU 0's VM maps it too)
  machine::ConsoleOutput console_out_;
  machine::ConsoleInput console_in_;
  DiskDevice disk_;
  const DiskImage* disk_image_;
  std::unique_ptr<DiskReader> disk_reader_;
  std::unique_ptr<MemoryHash> memory_hash_;
  AccessDecoder decoder_;
  std::vector<std::unique_ptr<Hart>> harts_;
  // Replaced at a cut (under cut_mutex_) by the live one when a replay goes live; the
  // replay's stays alive (the log's reader still names it).
  std::unique_ptr<VcpuOrdering> ordering_;
  LiveOrderingFactory live_ordering_;
  std::unique_ptr<VcpuOrdering> replayed_ordering_;
  // SMP replay's cuts (JoinCut).
  std::mutex cut_mutex_;
  std::condition_variable cut_cv_;
  uint32_t cut_arrived_ = 0;
  uint32_t cut_finished_ = 0;  // vCPUs stopped for good: they join no cut
  uint64_t cut_generation_ = 0;
  machine::StopProtocol stop_;

  uint64_t next_checkpoint_ = 0;                // landmark of vCPU 0's next checkpoint; 0 = none (one vCPU)
  // Replay: set once under log_end_mutex_, then published by the flag (Final(), SwitchAt()).
  std::mutex log_end_mutex_;
  std::optional<std::vector<uint64_t>> final_;  // replay: where each vCPU stopped in the recording
  std::atomic<bool> final_known_{false};
  std::optional<std::vector<uint64_t>> switch_at_;  // replay then live: where the log ends
  std::atomic<bool> switch_known_{false};
  RunResult result_;
  std::mutex result_mutex_;
  // Record --wall-samples only (null otherwise); each vCPU samples at its own exits (Hart).
  std::unique_ptr<machine::HostTimeSamples> host_time_;

  // The timeout watchdog.
  std::mutex watchdog_mutex_;
  std::condition_variable watchdog_cv_;
  bool finished_ = false;
  std::atomic<bool> timed_out_{false};
  std::atomic<bool> interrupted_{false};  // interruptRuns() (SIGINT, SIGTERM)

  RunProfile profile_{RunProfile::Enabled()};
};

}  // namespace rrkit::kvm
