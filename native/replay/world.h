// The seam between an engine and everything outside the guest.
//
// Engines call a World from every vCPU thread at once: implementations are thread safe.
//
// Every value that comes from the world (clock, entropy, console input, ...) and every
// asynchronous interrupt passes through a World. Three implementations: live (plain run),
// recording (live, and logs what it saw) and replaying (feeds the log, reads nothing from
// the world).
//
// What an engine must know: values (Input, RareOutcome) it simply asks for, the same way in
// every world. Asynchronous events differ: live and recording, interrupts come from the
// engine's own devices as host time passes (DeliversLiveInterrupts() is true) and the
// engine decides when to cut a checkpoint; in replay they come from the log at exact
// landmarks (ScheduledInterrupt, ScheduledCheckpoint, FinalLandmarks), and the engine's
// devices must raise nothing. An engine keeps that difference in one place (emu: its
// InterruptSource and CutSchedule) and elsewhere does not know which world it has.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "replay/divergence.h"
#include "replay/landmark.h"

namespace rrkit::replay {

// Which device value came from the world. Part of the log format: append only.
enum class InputKind : uint8_t {
  kClock = 1,             // CLINT mtime (emu), clock register (kvm)
  kEntropy = 2,           // rrkit system device entropy register
  kConsoleData = 3,       // UART receive buffer / console receive register
  kConsoleStatus = 4,     // UART line status (whether input is waiting depends on the world)
  kInterruptPending = 5,  // a read of mip: which interrupts are pending depends on time
  kStoreConditional = 6,  // SC outcome (1 = failed); only failures are logged
  kWfiWake = 7,           // a wfi that ended without an interrupt being taken
};

// A consistent cut of the machine: every vCPU paused at its landmark, with the hash of its
// registers, and the hash of guest memory at that cut.
struct Checkpoint {
  struct Vcpu {
    Landmark at;
    uint64_t register_hash = 0;
  };
  std::vector<Vcpu> vcpus;
  uint64_t memory_hash = 0;
};

// What the guest wrote to its console: replay must write the same bytes.
struct OutputDigest {
  uint64_t bytes = 0;
  uint64_t hash = 0;  // FNV-1a 64 over every byte, in order
};

// Bytes a device wrote into guest memory (DMA). Logged with the bytes, so that replay
// needs no copy of where they came from — unless they came from a disk image that the
// replay holds too (--disk-shared): then the log says only where in the image.
struct DmaWrite {
  Landmark at;
  uint64_t address = 0;  // guest-physical
  std::vector<uint8_t> data;  // empty when from_shared_disk
  bool from_shared_disk = false;
  uint64_t disk_offset = 0;  // from_shared_disk: where the bytes are in the image
  uint64_t length = 0;       // bytes written (data.size() unless from_shared_disk)
};

class World {
 public:
  virtual ~World() = default;

  // A value from the world. `live` reads it from the host; recording logs the value;
  // replay returns the logged one and never calls `live`.
  virtual uint64_t Input(Landmark at, InputKind kind, const std::function<uint64_t()>& live) = 0;

  // An outcome that is nearly always `usual` (an SC that succeeds, a wfi that wakes with an
  // interrupt): only the unusual ones are logged. Replay returns the logged value when the
  // log has one of this kind at this landmark, else `usual`.
  virtual uint64_t RareOutcome(Landmark at, InputKind kind, uint64_t usual,
                               const std::function<uint64_t()>& live) = 0;

  // True when interrupts come from the engine's own devices as they fall due (live and
  // record); false in replay, where only ScheduledInterrupt() decides.
  virtual bool DeliversLiveInterrupts() const = 0;

  // The engine took interrupt `cause` at `at` (recording logs it).
  virtual void InterruptTaken(Landmark at, uint64_t cause) = 0;
  // The same, for an interrupt that fell due `delay_ns` before it could be taken (kvm takes
  // interrupts only at VM exits). Recording logs the delay too; replay ignores it.
  virtual void DelayedInterruptTaken(Landmark at, uint64_t cause, uint64_t delay_ns) {
    (void)delay_ns;
    InterruptTaken(at, cause);
  }

  // Replay: the next interrupt this vCPU must take, and where. The engine runs exactly up
  // to that landmark and then takes it.
  struct Scheduled {
    uint64_t count;
    uint64_t cause;
    // Checkpoints taken before this interrupt in the recording. A vCPU may take an
    // interrupt and join a cut at the same count (woken from wfi, it retires nothing in
    // between); this says which came first.
    uint64_t checkpoints_before = 0;
  };
  virtual std::optional<Scheduled> ScheduledInterrupt(uint32_t vcpu) = 0;

  // Replay: the landmarks of the next checkpoint, one per vCPU (empty when none is left).
  // Record: decided by the engine's checkpoint interval.
  virtual std::optional<Checkpoint> ScheduledCheckpoint() = 0;

  // A checkpoint the engine took. Recording logs it; replay compares it with the log and
  // throws Divergence when they differ.
  virtual void CheckpointTaken(const Checkpoint& checkpoint) = 0;

  // The machine stopped: `exit_vcpu` wrote the exit code at its landmark; every vCPU's
  // final landmark and the final state are in `final_state`; `output` digests the console
  // output. Recording logs it (and closes the log cleanly); replay compares.
  virtual void MachineStopped(Landmark exit_at, int exit_code, const Checkpoint& final_state,
                              const OutputDigest& output) = 0;

  // Replay only: the landmark at which each vCPU stopped in the recording (to stop there),
  // once the replay has read that far in the log; for an incomplete log, once it has been read
  // to its end, the last landmark it vouches for on each vCPU.
  virtual std::optional<std::vector<uint64_t>> FinalLandmarks() = 0;
  // Replay only: FinalLandmarks() is where an incomplete log stops vouching, not where the
  // recording stopped: an engine that reaches it stops there (outcome reached-counts)
  // rather than judging what lies beyond as a divergence.
  virtual bool FinalLandmarksEndAnIncompleteLog() const { return false; }

  // Replay reads the log as it goes (ReplayingWorld). Every record of `vcpu` below its
  // horizon has been read, so the vCPU runs freely up to it (ScheduledInterrupt,
  // ScheduledCheckpoint and FinalLandmarks are complete up to there) and then calls
  // Advance(). kNever: nothing more will come (the log ended, or nothing is replayed).
  virtual uint64_t Horizon(uint32_t /*vcpu*/) { return kNever; }
  // Reads on until Horizon(vcpu) > count or the log ends; may block (a log still being
  // written, or a full lookahead on SMP). Throws LogError for a damaged log.
  virtual void Advance(uint32_t /*vcpu*/, uint64_t /*count*/) {}
  // The machine is stopping: release every thread blocked in Advance().
  virtual void Cancel() {}

  // Replay, then live (ReplayThenLiveWorld): once the log has been read to its end without
  // a stop record, the landmark at which each vCPU leaves it (its last in the log). The
  // engine runs every vCPU there, pauses them all (a consistent cut: every logged edge and
  // checkpoint lies within it) and calls GoLive(); from then on DeliversLiveInterrupts()
  // is true and values come from the world. nullopt otherwise.
  virtual std::optional<std::vector<uint64_t>> SwitchLandmarks() { return std::nullopt; }
  virtual void GoLive() {}

  // --- devices that write guest memory (the kvm board's disk); other engines never call these ---

  // A device wrote `dma.data` into guest memory at `dma.at`. Recording logs it; replay
  // checks that it is the DMA the log holds next for that vCPU.
  virtual void DmaDone(const DmaWrite& dma) { (void)dma; }
  // Replay: the next DMA this vCPU's devices must perform, and where (the engine performs
  // it when the vCPU reaches that landmark). Otherwise none.
  virtual std::optional<DmaWrite> ScheduledDma(uint32_t vcpu) {
    (void)vcpu;
    return std::nullopt;
  }
};

// A plain run: the world as it is, nothing logged.
class LiveWorld final : public World {
 public:
  uint64_t Input(Landmark, InputKind, const std::function<uint64_t()>& live) override { return live(); }
  uint64_t RareOutcome(Landmark, InputKind, uint64_t, const std::function<uint64_t()>& live) override {
    return live();
  }
  bool DeliversLiveInterrupts() const override { return true; }
  void InterruptTaken(Landmark, uint64_t) override {}
  std::optional<Scheduled> ScheduledInterrupt(uint32_t) override { return std::nullopt; }
  std::optional<Checkpoint> ScheduledCheckpoint() override { return std::nullopt; }
  void CheckpointTaken(const Checkpoint&) override {}
  void MachineStopped(Landmark, int, const Checkpoint&, const OutputDigest&) override {}
  std::optional<std::vector<uint64_t>> FinalLandmarks() override { return std::nullopt; }
};

}  // namespace rrkit::replay
