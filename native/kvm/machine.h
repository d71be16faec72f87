// The kvm engine's machine: one VM with one vCPU in long mode over memfd-backed RAM, the
// x86_64 board's devices, and the run loop that drives KVM_RUN on a thread of its own.
//
// A point in the run is a landmark: the number of synchronous VM exits the vCPU has taken
// (MMIO, I/O, HLT, ...; a kick is not one). Everything from the world enters at an exit
// through the World: device reads, the completion of disk reads, and interrupts, which
// the VMM injects only at an exit where the guest can take them — so replay, counting the
// same exits, feeds the same values and injects the same interrupts at the same points.
// Checkpoints are taken at exits too: the register hash from the registers KVM reports at
// the exit, the memory hash kept current with KVM's dirty-page log.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

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
#include "kvm/periodic_timer.h"
#include "kvm/vcpu.h"
#include "kvm/vm.h"
#include "machine/run_result.h"
#include "replay/world.h"

namespace rrkit::kvm {

struct MachineOptions {
  uint64_t ram_bytes = uint64_t{128} << 20;
  // Record/live: a checkpoint every this many exits (0 = never). Replay: the log decides.
  uint64_t checkpoint_interval = 0;
  // Record and replay: keep the memory hash current between checkpoints with KVM's dirty
  // log, started at the first checkpoint; otherwise hash all of RAM once at the end.
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
};

// What a kvm run returns: every engine's result (landmarks are exits), and what the
// board's devices did.
struct RunResult {
  machine::RunResult run;
  uint64_t interrupts = 0;
  uint64_t dma_bytes = 0;
  std::vector<uint64_t> interrupt_delays_ns;  // live and record: due time to delivery, per interrupt
  // From the first KVM_RUN to the exit that stopped the run: the guest's own time, without
  // the VMM's set-up and final state hash.
  double guest_seconds = 0;
};

class Machine {
 public:
  // `disk` (may be null) must outlive the machine. A replay needs it only when the log
  // left the disk's bytes out.
  Machine(const KvmSystem& system, const MachineOptions& options, replay::World& world, machine::ConsoleInput input,
          const ElfImage& image, const DiskImage* disk);
  ~Machine();
  Machine(const Machine&) = delete;
  Machine& operator=(const Machine&) = delete;

  // Runs the guest on a thread of its own until it stops. Call once.
  RunResult Run();

  // Exits taken so far (for progress reports from another thread).
  uint64_t ExitsSoFar() const { return exits_published_.load(std::memory_order_relaxed); }

 private:
  struct Stop {
    machine::Outcome outcome;
    std::string error;
    std::optional<replay::Divergence> divergence;
  };

  void Loop();
  void RunLoop();
  void Timeout();
  replay::Landmark Here() const { return {0, exits_}; }

  // Replay: at each exit, reads the log on when the run has reached what was read.
  void RefreshFromLog(replay::Landmark at);
  // At the exit with landmark `at`, before the exit's own access is handled.
  void TakeCheckpointIfDue(replay::Landmark at);
  void CompleteDiskIfDue(replay::Landmark at);
  void StartDiskRead(const DiskRequest& request);
  void FinishDiskRequest(replay::Landmark at, std::vector<uint8_t> data, bool from_shared_disk);
  // After the exit was handled: inject an interrupt if one is due and the guest can take it.
  void DeliverInterrupt(replay::Landmark at);
  void WaitInHalt(replay::Landmark at);

  // `final`: no checkpoint follows (the stop), so the dirty log need not start.
  replay::Checkpoint CaptureState(replay::Landmark at, bool final);
  uint64_t CurrentMemoryHash(bool final);
  [[noreturn]] void Fault(const std::string& why);

  MachineOptions options_;
  replay::World& world_;
  const bool live_;  // the world delivers live interrupts (plain run, recording)
  HostClock clock_;
  std::shared_ptr<MemoryFile> memory_file_;
  GuestMemory memory_;
  Vm vm_;
  Vcpu vcpu_;
  machine::ConsoleOutput console_out_;
  machine::ConsoleInput console_in_;
  PeriodicTimer timer_;
  InterruptController interrupts_;
  DiskDevice disk_;
  const DiskImage* disk_image_;
  std::unique_ptr<DiskReader> disk_reader_;
  DevicesPage devices_;
  std::unique_ptr<MemoryHash> memory_hash_;

  uint64_t exits_ = 0;
  std::atomic<uint64_t> exits_published_{0};
  uint64_t next_checkpoint_ = 0;  // landmark of the next checkpoint; 0 = none
  std::optional<replay::World::Scheduled> next_interrupt_;  // replay
  std::optional<uint64_t> final_exits_;                     // replay: where the recording stopped
  std::optional<Stop> stop_;
  RunResult result_;
  // Record --wall-samples only (null otherwise), and the vCPU's entries into the guest.
  std::unique_ptr<machine::HostTimeSamples> host_time_;
  std::optional<machine::HostTimeSamples::GuestEntries> guest_entries_;

  // The timeout watchdog.
  std::mutex watchdog_mutex_;
  std::condition_variable watchdog_cv_;
  bool finished_ = false;
  std::atomic<bool> timed_out_{false};
};

}  // namespace rrkit::kvm
