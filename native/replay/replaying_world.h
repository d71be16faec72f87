// Replay: feeds an engine the values and interrupts of a recorded log, per vCPU and in the
// recorded order, and reads nothing from the world. Anything the engine does that the log
// does not hold throws Divergence naming the vCPU, the landmark, the field, the expected
// and the actual value.
#pragma once

#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "replay/log_reader.h"
#include "replay/world.h"

namespace rrkit::replay {

class ReplayingWorld final : public World {
 public:
  explicit ReplayingWorld(LogContents log);

  uint64_t Input(Landmark at, InputKind kind, const std::function<uint64_t()>& live) override;
  uint64_t RareOutcome(Landmark at, InputKind kind, uint64_t usual, const std::function<uint64_t()>& live) override;
  bool DeliversLiveInterrupts() const override { return false; }
  void InterruptTaken(Landmark at, uint64_t cause) override;
  std::optional<Scheduled> ScheduledInterrupt(uint32_t vcpu) override;
  std::optional<Checkpoint> ScheduledCheckpoint() override;
  void CheckpointTaken(const Checkpoint& checkpoint) override;
  void MachineStopped(Landmark exit_at, int exit_code, const Checkpoint& final_state,
                      const OutputDigest& output) override;
  std::optional<std::vector<uint64_t>> FinalLandmarks() override;
  void DmaDone(const DmaWrite& dma) override;
  std::optional<DmaWrite> ScheduledDma(uint32_t vcpu) override;

  const LogHeader& header() const { return header_; }
  bool log_complete() const { return complete_; }
  // In log order, for CREW replay (each vCPU waits at `to` until `from` has passed).
  const std::vector<CrewTransferRecord>& crew_transfers() const { return crew_transfers_; }
  // kvm SMP: where each vCPU stopped on a page it had no right to, in log order.
  const std::vector<CrewFaultRecord>& crew_faults() const { return crew_faults_; }
  // DMA records in the log (an engine without DMA devices, emu, refuses a log that holds any).
  size_t dma_count() const { return dma_count_; }
  std::optional<Landmark> first_dma() const { return first_dma_; }

 private:
  // What one vCPU still has to consume; only that vCPU's thread normally touches it, the
  // lock makes a stray cross-thread call safe rather than fast.
  struct VcpuLog {
    std::mutex mutex;
    std::deque<InputRecord> inputs;
    std::deque<RareOutcomeRecord> rare_outcomes;
    std::deque<std::pair<InterruptRecord, uint64_t>> interrupts;  // with the checkpoints logged before it
    std::deque<DmaWrite> dmas;
  };

  VcpuLog& ForVcpu(Landmark at);
  void NoteDma(Landmark at);

  const LogHeader header_;
  const bool complete_;
  std::vector<std::unique_ptr<VcpuLog>> vcpus_;
  std::vector<CrewTransferRecord> crew_transfers_;
  std::vector<CrewFaultRecord> crew_faults_;
  size_t dma_count_ = 0;
  std::optional<Landmark> first_dma_;

  std::mutex machine_mutex_;  // checkpoints and the stop
  std::deque<Checkpoint> checkpoints_;
  std::optional<MachineStopRecord> stop_;
};

}  // namespace rrkit::replay
