// Replay: feeds an engine the values and interrupts of a recorded log, per vCPU and in the
// recorded order, and reads nothing from the world. Anything the engine does that the log
// does not hold throws Divergence naming the vCPU, the landmark, the field, the expected
// and the actual value.
//
// The log streams in (World::Horizon/Advance): chunks are read, checked and decoded as the
// replay reaches them and dropped once their records are consumed. What is decoded but not
// yet consumed is the lookahead. On one vCPU it is one chunk. On several, the vCPUs that
// run ahead decode past the records of those behind, which wait in their queues; a vCPU
// that needs more while `lookahead_records` are waiting waits for the others to consume
// (never for long: whoever another vCPU waits for, at a CREW gate or a cut, has its
// records before that gate or cut in the log, so already decoded). The bound is then
// lookahead_records plus one chunk (at most 4 MiB decoded).
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

#include "replay/divergence.h"
#include "replay/log_error.h"
#include "replay/log_reader.h"
#include "replay/world.h"

namespace rrkit::replay {

// A log whose records cannot be what a recording wrote: a vCPU's landmarks go back in log
// order (records reordered, or CREW edges past a vCPU's end or forming a cycle).
class LogOrderError : public UnreplayableLog {
 public:
  using UnreplayableLog::UnreplayableLog;
};

// What a replay read and checked: what `rrkit verify` reports, without reading the log again.
struct ReplayReport {
  uint32_t chunks = 0;             // chunks read and decoded
  uint64_t records = 0;
  bool ended = false;              // the whole log was read
  bool complete = false;           // ... and it had its trailer
  uint64_t checkpoints_compared = 0;
  std::optional<Checkpoint> last_matching_checkpoint;
  struct Damage {
    LogErrorCode code;
    int64_t chunk;
    uint64_t offset;
    std::string detail;  // LogError::detail()
  };
  std::optional<Damage> damage;  // where the replay met a damaged log
  // Replay then live: where each vCPU went live (its last landmark in the log), if it did.
  std::optional<std::vector<uint64_t>> live_from;
};

class ReplayingWorld final : public World {
 public:
  struct Options {
    size_t lookahead_records = size_t{1} << 20;
    // Whether the engine replays DMA writes (kvm's devices); without, a log holding one is
    // refused where the replay reads it.
    bool replays_dma_writes = false;
    // Whether a landmark counts instructions (emu), so that a record of what the instruction
    // at count N did is consumed by running to N + 1; on kvm a landmark counts exits, and a
    // record at exit N is consumed while the engine handles exit N (LastLandmarks).
    bool landmarks_count_instructions = true;
    // Resuming from a state image taken at this cut (emu/state_image.h): every record up to
    // and including the log's checkpoint record equal to it (landmarks and hashes) is
    // skipped, and each vCPU starts at its landmark there. A log whose checkpoints pass
    // the cut without one equal to it, or that ends first, is not the image's: refused
    // (UnreplayableLog) where the replay reads so far.
    std::optional<Checkpoint> resume_after{};
  };
  // CREW replay: each transfer edge as it is decoded, and how many handed-over edges are
  // still waiting to be passed (they count towards the lookahead).
  struct TransferFollower {
    std::function<void(const CrewTransferRecord&)> add;
    std::function<size_t()> pending;
    // kvm SMP: each CREW fault record (a stop on a protected page) as it is decoded; without
    // one they are dropped.
    std::function<void(const CrewFaultRecord&)> add_fault = {};
  };

  // Serialized mode: each mode or turn switch as it is decoded, with the number of
  // checkpoints logged before it (a cut and a switch can fall on one count), and how many
  // handed-over records are still to be followed (they count towards the lookahead).
  struct SerialModeRecord {
    std::variant<ModeSwitchRecord, TurnSwitchRecord> record;
    uint64_t checkpoints_before = 0;
  };
  struct SerialFollower {
    std::function<void(const SerialModeRecord&)> add;
    std::function<size_t()> pending;
  };

  ReplayingWorld(std::unique_ptr<LogReader> reader, Options options);
  explicit ReplayingWorld(std::unique_ptr<LogReader> reader) : ReplayingWorld(std::move(reader), Options{}) {}

  uint64_t Input(Landmark at, InputKind kind, const std::function<uint64_t()>& live) override;
  uint64_t RareOutcome(Landmark at, InputKind kind, uint64_t usual, const std::function<uint64_t()>& live) override;
  bool DeliversLiveInterrupts() const override { return false; }
  void InterruptTaken(Landmark at, uint64_t cause) override;
  std::optional<Scheduled> ScheduledInterrupt(uint32_t vcpu) override;
  std::optional<Checkpoint> ScheduledCheckpoint() override;
  void CheckpointTaken(const Checkpoint& checkpoint) override;
  void MachineStopped(Landmark exit_at, int exit_code, const Checkpoint& final_state,
                      const OutputDigest& output) override;
  // Where each vCPU stopped in the recording, once the stop record has been read; for an
  // incomplete log (no stop record), once it has been read to its end, LastLandmarks():
  // replay stops there, since what the recording did after its last sealed chunk is unknown.
  std::optional<std::vector<uint64_t>> FinalLandmarks() override;
  // Whether FinalLandmarks() is that end of an incomplete log.
  bool FinalLandmarksEndAnIncompleteLog() const override;
  uint64_t Horizon(uint32_t vcpu) override;
  void Advance(uint32_t vcpu, uint64_t count) override;
  void Cancel() override;
  void DmaDone(const DmaWrite& dma) override;
  std::optional<DmaWrite> ScheduledDma(uint32_t vcpu) override;

  const LogHeader& header() const { return header_; }
  // Before the run: where CREW edges go (without one they are dropped, as on one vCPU).
  void FollowTransfers(TransferFollower follower);
  // Before the run: where serialized mode's mode and turn switches go (without one, a log
  // holding any is refused where the replay reads one).
  void FollowSerialRecords(SerialFollower follower);
  // Before the run: every record as it is read, in log order (--then-run -o copies the log
  // it replays into the one it goes on recording).
  void CopyRecordsTo(std::function<void(const Record&)> copy);
  // Once the log has ended: where each vCPU leaves it: its last landmark (0 for one it never
  // names), or, when landmarks count instructions, just after it when the log says what the
  // instruction there did (an input: that instruction runs on the logged value).
  std::vector<uint64_t> LastLandmarks() const;
  // Whether the log has been read to its end, and whether it had its trailer.
  bool log_ended() const;
  bool log_complete() const;
  // Whether the log held a stop record (read so far): where the recording stopped.
  bool stopped_in_log() const;
  ReplayReport report() const;
  // Records decoded and not yet consumed (the lookahead; for tests and the bench).
  size_t lookahead() const { return pending_.load(std::memory_order_relaxed); }

 private:
  // What one vCPU still has to consume; its own thread takes from it, whichever thread
  // decodes adds to it.
  struct VcpuLog {
    std::mutex mutex;
    std::deque<InputRecord> inputs;
    std::deque<RareOutcomeRecord> rare_outcomes;
    std::deque<std::pair<InterruptRecord, uint64_t>> interrupts;  // with the checkpoints logged before it
    std::deque<DmaWrite> dmas;  // kvm: what its disk wrote, where
    std::atomic<uint64_t> horizon{0};
    uint64_t last_count = 0;  // decoder only: the highest landmark read (the order check)
    bool last_is_during = false;  // ... and a record there is what that instruction did
  };

  VcpuLog& ForVcpu(Landmark at);
  void Consumed(size_t records) {
    pending_.fetch_sub(records, std::memory_order_relaxed);
    consumed_.fetch_add(records, std::memory_order_relaxed);
  }
  // Decoder (under decode_mutex_): reads one chunk, or the end, and hands out its records.
  void DecodeChunkLocked();
  // Resuming (Options::resume_after): the index of the first record of `chunk` after the
  // image's checkpoint, or its size while that checkpoint is still to come.
  size_t SkipToResumePointLocked(const std::vector<Record>& chunk, int64_t index);
  void Distribute(Record& record, int64_t chunk);
  // `ordered`: must not go below what was read before (all but CREW `from` and the exit
  // landmark); `during`: the record is something the instruction at its count did.
  void SawLandmark(Landmark at, int64_t chunk, std::vector<uint64_t>& highest, bool ordered, bool during);
  void EndLocked();
  // Waits while the lookahead is full; false when `needed` turned false meanwhile.
  bool WaitForRoomLocked(std::unique_lock<std::mutex>& lock, const std::function<bool()>& needed);
  size_t PendingTotal() const;

  const LogHeader header_;
  const Options options_;
  std::vector<std::unique_ptr<VcpuLog>> vcpus_;

  mutable std::mutex decode_mutex_;  // the reader and everything below it
  std::condition_variable room_cv_;
  std::unique_ptr<LogReader> reader_;
  TransferFollower transfers_;
  SerialFollower serial_;
  std::function<void(const Record&)> copy_;
  bool ended_ = false;
  bool skipping_ = false;  // resuming: the image's checkpoint not yet met
  std::atomic<bool> cancelled_{false};
  uint64_t checkpoints_decoded_ = 0;
  std::optional<ReplayReport::Damage> damage_;
  std::atomic<size_t> pending_{0};
  std::atomic<uint64_t> consumed_{0};  // ever: whether anyone consumes while the lookahead is full

  mutable std::mutex machine_mutex_;  // checkpoints, the stop and the report
  std::deque<Checkpoint> checkpoints_;
  std::optional<MachineStopRecord> stop_;
  uint64_t checkpoints_compared_ = 0;
  std::optional<Checkpoint> last_matching_;
};

}  // namespace rrkit::replay
