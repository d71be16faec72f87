#include "replay/replaying_world.h"

#include <cstdio>
#include <type_traits>

namespace rrkit::replay {
namespace {

std::string KindName(InputKind kind) {
  switch (kind) {
    case InputKind::kClock: return "clock";
    case InputKind::kEntropy: return "entropy";
    case InputKind::kConsoleData: return "console-data";
    case InputKind::kConsoleStatus: return "console-status";
    case InputKind::kInterruptPending: return "interrupt-pending";
    case InputKind::kStoreConditional: return "store-conditional";
    case InputKind::kWfiWake: return "wfi-wake";
  }
  return "kind " + std::to_string(static_cast<int>(kind));
}

std::string At(uint64_t count) { return "@ " + std::to_string(count); }

std::string Hex(uint64_t value) {
  char text[24];
  std::snprintf(text, sizeof text, "0x%llx", static_cast<unsigned long long>(value));
  return text;
}

std::string DescribeDma(const DmaWrite& dma) {
  return std::to_string(dma.length) + " bytes at " + Hex(dma.address) +
         (dma.from_shared_disk ? " from disk offset " + std::to_string(dma.disk_offset) : "") + " " + At(dma.at.count);
}

std::string DescribeOutput(const OutputDigest& output) {
  char hash[24];
  std::snprintf(hash, sizeof hash, "%016llx", static_cast<unsigned long long>(output.hash));
  return std::to_string(output.bytes) + " bytes, digest " + hash;
}

}  // namespace

ReplayingWorld::ReplayingWorld(LogContents log) : header_(log.header), complete_(log.complete) {
  for (uint32_t i = 0; i < header_.vcpus; ++i) vcpus_.push_back(std::make_unique<VcpuLog>());
  for (Record& record : log.records) {
    std::visit(
        [&](auto& r) {
          using T = std::decay_t<decltype(r)>;
          if constexpr (std::is_same_v<T, InputRecord>) vcpus_[r.at.vcpu]->inputs.push_back(r);
          else if constexpr (std::is_same_v<T, RareOutcomeRecord>) vcpus_[r.at.vcpu]->rare_outcomes.push_back(r);
          else if constexpr (std::is_same_v<T, InterruptRecord>) vcpus_[r.at.vcpu]->interrupts.emplace_back(r, checkpoints_.size());
          else if constexpr (std::is_same_v<T, CheckpointRecord>) checkpoints_.push_back(std::move(r.checkpoint));
          else if constexpr (std::is_same_v<T, CrewTransferRecord>) crew_transfers_.push_back(r);
          else if constexpr (std::is_same_v<T, CrewFaultRecord>) crew_faults_.push_back(r);
          else if constexpr (std::is_same_v<T, MachineStopRecord>) stop_ = std::move(r);
          else if constexpr (std::is_same_v<T, DmaWriteRecord>) {
            NoteDma(r.at);
            const uint64_t length = r.data.size();
            vcpus_[r.at.vcpu]->dmas.push_back(DmaWrite{r.at, r.address, std::move(r.data), false, 0, length});
          } else if constexpr (std::is_same_v<T, DelayedInterruptRecord>) {
            vcpus_[r.at.vcpu]->interrupts.emplace_back(InterruptRecord{r.at, r.cause}, checkpoints_.size());
          } else if constexpr (std::is_same_v<T, DiskReadRecord>) {
            NoteDma(r.at);
            vcpus_[r.at.vcpu]->dmas.push_back(DmaWrite{r.at, r.address, {}, true, r.disk_offset, r.length});
          }
        },
        record);
  }
}

void ReplayingWorld::NoteDma(Landmark at) {
  if (!first_dma_) first_dma_ = at;
  ++dma_count_;
}

ReplayingWorld::VcpuLog& ReplayingWorld::ForVcpu(Landmark at) {
  if (at.vcpu >= vcpus_.size()) {
    throw Divergence{at, "vcpu", "below " + std::to_string(vcpus_.size()), std::to_string(at.vcpu)};
  }
  return *vcpus_[at.vcpu];
}

uint64_t ReplayingWorld::Input(Landmark at, InputKind kind, const std::function<uint64_t()>&) {
  VcpuLog& v = ForVcpu(at);
  std::lock_guard lock(v.mutex);
  if (v.inputs.empty()) throw Divergence{at, "input", "no more inputs", KindName(kind) + " " + At(at.count)};
  const InputRecord& next = v.inputs.front();
  if (next.at.count != at.count) {
    throw Divergence{at, "input landmark", KindName(next.kind) + " " + At(next.at.count), KindName(kind) + " " + At(at.count)};
  }
  if (next.kind != kind) throw Divergence{at, "input kind", KindName(next.kind), KindName(kind)};
  const uint64_t value = next.value;
  v.inputs.pop_front();
  return value;
}

uint64_t ReplayingWorld::RareOutcome(Landmark at, InputKind kind, uint64_t usual, const std::function<uint64_t()>&) {
  VcpuLog& v = ForVcpu(at);
  std::lock_guard lock(v.mutex);
  if (v.rare_outcomes.empty()) return usual;
  const RareOutcomeRecord& next = v.rare_outcomes.front();
  if (next.at.count < at.count) {  // the guest went past a logged outcome without asking
    throw Divergence{at, "rare outcome", KindName(next.kind) + " " + At(next.at.count), "none before " + At(at.count)};
  }
  if (next.at.count != at.count || next.kind != kind) return usual;
  const uint64_t value = next.value;
  v.rare_outcomes.pop_front();
  return value;
}

void ReplayingWorld::InterruptTaken(Landmark at, uint64_t cause) {
  VcpuLog& v = ForVcpu(at);
  std::lock_guard lock(v.mutex);
  if (v.interrupts.empty()) throw Divergence{at, "interrupt", "none", "cause " + std::to_string(cause) + " " + At(at.count)};
  const InterruptRecord& next = v.interrupts.front().first;
  if (next.at.count != at.count) throw Divergence{at, "interrupt landmark", At(next.at.count), At(at.count)};
  if (next.cause != cause) throw Divergence{at, "interrupt cause", std::to_string(next.cause), std::to_string(cause)};
  v.interrupts.pop_front();
}

std::optional<World::Scheduled> ReplayingWorld::ScheduledInterrupt(uint32_t vcpu) {
  VcpuLog& v = ForVcpu({vcpu, 0});
  std::lock_guard lock(v.mutex);
  if (v.interrupts.empty()) return std::nullopt;
  const auto& [next, checkpoints_before] = v.interrupts.front();
  return Scheduled{next.at.count, next.cause, checkpoints_before};
}

std::optional<Checkpoint> ReplayingWorld::ScheduledCheckpoint() {
  std::lock_guard lock(machine_mutex_);
  if (checkpoints_.empty()) return std::nullopt;
  return checkpoints_.front();
}

void ReplayingWorld::CheckpointTaken(const Checkpoint& checkpoint) {
  std::lock_guard lock(machine_mutex_);
  const Landmark at = checkpoint.vcpus.empty() ? Landmark{} : checkpoint.vcpus.front().at;
  if (checkpoints_.empty()) throw Divergence{at, "checkpoint", "none left in the log", "a checkpoint"};
  const Checkpoint expected = std::move(checkpoints_.front());
  checkpoints_.pop_front();
  const std::vector<Divergence> differences = CompareCheckpoints(expected, checkpoint);
  if (!differences.empty()) throw differences.front();
}

void ReplayingWorld::MachineStopped(Landmark exit_at, int exit_code, const Checkpoint& final_state,
                                    const OutputDigest& output) {
  {
    std::lock_guard lock(machine_mutex_);
    if (!stop_) return;  // an incomplete log: nothing recorded to compare with
    if (stop_->exit_at.vcpu != exit_at.vcpu || stop_->exit_at.count != exit_at.count) {
      throw Divergence{exit_at, "exit landmark", "vcpu " + std::to_string(stop_->exit_at.vcpu) + " " + At(stop_->exit_at.count),
                       "vcpu " + std::to_string(exit_at.vcpu) + " " + At(exit_at.count)};
    }
    if (stop_->exit_code != exit_code) {
      throw Divergence{exit_at, "exit code", std::to_string(stop_->exit_code), std::to_string(exit_code)};
    }
    if (stop_->output.bytes != output.bytes || stop_->output.hash != output.hash) {
      throw Divergence{exit_at, "console output", DescribeOutput(stop_->output), DescribeOutput(output)};
    }
    const std::vector<Divergence> differences = CompareCheckpoints(stop_->final_state, final_state);
    if (!differences.empty()) throw differences.front();
    // A checkpoint the replay never reached means it stopped short of the recording.
    if (!checkpoints_.empty() && !checkpoints_.front().vcpus.empty()) {
      const Checkpoint::Vcpu& first = checkpoints_.front().vcpus.front();
      throw Divergence{first.at, "untaken checkpoint", "a checkpoint at vcpu " + std::to_string(first.at.vcpu) + " " +
                       At(first.at.count), "machine stopped"};
    }
  }
  // Everything logged must have been consumed.
  for (uint32_t i = 0; i < vcpus_.size(); ++i) {
    VcpuLog& v = *vcpus_[i];
    std::lock_guard lock(v.mutex);
    if (!v.inputs.empty()) {
      throw Divergence{{i, v.inputs.front().at.count}, "unconsumed input", KindName(v.inputs.front().kind), "machine stopped"};
    }
    if (!v.interrupts.empty()) {
      throw Divergence{{i, v.interrupts.front().first.at.count}, "untaken interrupt",
                       "cause " + std::to_string(v.interrupts.front().first.cause), "machine stopped"};
    }
    if (!v.dmas.empty()) {
      throw Divergence{{i, v.dmas.front().at.count}, "unperformed DMA", DescribeDma(v.dmas.front()), "machine stopped"};
    }
    if (!v.rare_outcomes.empty()) {
      throw Divergence{{i, v.rare_outcomes.front().at.count}, "unconsumed rare outcome",
                       KindName(v.rare_outcomes.front().kind), "machine stopped"};
    }
  }
}

void ReplayingWorld::DmaDone(const DmaWrite& dma) {
  VcpuLog& v = ForVcpu(dma.at);
  std::lock_guard lock(v.mutex);
  if (v.dmas.empty()) throw Divergence{dma.at, "DMA", "none", DescribeDma(dma)};
  const DmaWrite& next = v.dmas.front();
  if (next.at.count != dma.at.count || next.address != dma.address || next.length != dma.length ||
      next.from_shared_disk != dma.from_shared_disk || next.disk_offset != dma.disk_offset) {
    throw Divergence{dma.at, "DMA", DescribeDma(next), DescribeDma(dma)};
  }
  v.dmas.pop_front();
}

std::optional<DmaWrite> ReplayingWorld::ScheduledDma(uint32_t vcpu) {
  VcpuLog& v = ForVcpu({vcpu, 0});
  std::lock_guard lock(v.mutex);
  if (v.dmas.empty()) return std::nullopt;
  return v.dmas.front();
}

std::optional<std::vector<uint64_t>> ReplayingWorld::FinalLandmarks() {
  std::lock_guard lock(machine_mutex_);
  if (!stop_) return std::nullopt;
  std::vector<uint64_t> counts;
  for (const auto& v : stop_->final_state.vcpus) counts.push_back(v.at.count);
  return counts;
}

}  // namespace rrkit::replay
