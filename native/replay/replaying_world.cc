#include "replay/replaying_world.h"
#include "text/hex.h"

#include <algorithm>
#include <chrono>
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

// "vcpu 0 @ 1200, vcpu 1 @ 800"
std::string DescribeCut(const Checkpoint& cut) {
  std::string out;
  for (const auto& v : cut.vcpus) out += (out.empty() ? "" : ", ") + std::string("vcpu ") + std::to_string(v.at.vcpu) + " " + At(v.at.count);
  return out;
}

using text::Hex;

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

ReplayingWorld::ReplayingWorld(std::unique_ptr<LogReader> reader, Options options)
    : header_(reader->header()), options_(options), reader_(std::move(reader)) {
  for (uint32_t i = 0; i < header_.vcpus; ++i) vcpus_.push_back(std::make_unique<VcpuLog>());
  if (options_.resume_after.has_value()) {
    if (options_.resume_after->vcpus.size() != vcpus_.size()) {
      throw UnreplayableLog("the state image's cut names " + std::to_string(options_.resume_after->vcpus.size()) +
                            " vCPUs; the log has " + std::to_string(vcpus_.size()));
    }
    // Each vCPU starts where the cut has it: what lies below was replayed by whoever took the image.
    for (size_t v = 0; v < vcpus_.size(); ++v) vcpus_[v]->last_count = options_.resume_after->vcpus[v].at.count;
    skipping_ = true;
  }
}

void ReplayingWorld::FollowTransfers(TransferFollower follower) {
  std::lock_guard lock(decode_mutex_);
  transfers_ = std::move(follower);
}

void ReplayingWorld::FollowSerialRecords(SerialFollower follower) {
  std::lock_guard lock(decode_mutex_);
  serial_ = std::move(follower);
}

void ReplayingWorld::CopyRecordsTo(std::function<void(const Record&)> copy) {
  std::lock_guard lock(decode_mutex_);
  copy_ = std::move(copy);
}

std::vector<uint64_t> ReplayingWorld::LastLandmarks() const {
  std::lock_guard lock(decode_mutex_);
  std::vector<uint64_t> out;
  const bool past_during = options_.landmarks_count_instructions;
  for (const auto& v : vcpus_) out.push_back(v->last_count + (past_during && v->last_is_during ? 1 : 0));
  return out;
}

// --- reading the log as the replay reaches it ----------------------------------------------

uint64_t ReplayingWorld::Horizon(uint32_t vcpu) {
  if (vcpu >= vcpus_.size()) return kNever;
  return vcpus_[vcpu]->horizon.load(std::memory_order_acquire);
}

void ReplayingWorld::Advance(uint32_t vcpu, uint64_t count) {
  if (vcpu >= vcpus_.size()) return;
  std::unique_lock lock(decode_mutex_);
  const auto needed = [&] { return !ended_ && !cancelled_ && vcpus_[vcpu]->horizon.load(std::memory_order_acquire) <= count; };
  while (needed()) {
    // Another vCPU may read what this one needs while it waits for room.
    if (!WaitForRoomLocked(lock, needed)) continue;
    DecodeChunkLocked();
  }
}

void ReplayingWorld::Cancel() {
  cancelled_ = true;  // without decode_mutex_: its holder may be blocked reading
  reader_->Cancel();
  room_cv_.notify_all();
}

size_t ReplayingWorld::PendingTotal() const {
  return pending_.load(std::memory_order_relaxed) + (transfers_.pending ? transfers_.pending() : 0) +
         (serial_.pending ? serial_.pending() : 0);
}

// Waits while the lookahead is full. Whoever the others wait for has its records decoded
// already (see the header), so the wait ends as they consume; should nobody consume for a
// while (a replay that is going wrong anyway), read on rather than risk waiting forever.
bool ReplayingWorld::WaitForRoomLocked(std::unique_lock<std::mutex>& lock, const std::function<bool()>& needed) {
  constexpr auto kNobodyConsumes = std::chrono::seconds(2);
  uint64_t consumed = consumed_.load(std::memory_order_relaxed);
  auto since = std::chrono::steady_clock::now();
  while (PendingTotal() >= options_.lookahead_records) {
    room_cv_.wait_for(lock, std::chrono::milliseconds(1));
    if (!needed()) return false;
    const uint64_t now = consumed_.load(std::memory_order_relaxed);
    const auto time = std::chrono::steady_clock::now();
    if (now != consumed) {
      consumed = now;
      since = time;
    } else if (time - since > kNobodyConsumes) {
      return true;
    }
  }
  return true;
}

void ReplayingWorld::DecodeChunkLocked() {
  std::optional<std::vector<Record>> chunk;
  try {
    chunk = reader_->NextChunk();
  } catch (const LogError& e) {
    {
      std::lock_guard lock(machine_mutex_);
      damage_ = ReplayReport::Damage{e.code(), e.chunk(), e.offset(), e.detail()};
    }
    EndLocked();
    throw;
  }
  if (!chunk) {
    EndLocked();
    if (skipping_) {
      throw UnreplayableLog("the log ends before the state image's cut (" + DescribeCut(*options_.resume_after) +
                            "): the image was not taken from this log");
    }
    return;
  }
  const int64_t index = static_cast<int64_t>(reader_->chunks_read()) - 1;
  const size_t first = skipping_ ? SkipToResumePointLocked(*chunk, index) : 0;
  std::vector<uint64_t> highest(vcpus_.size());
  for (size_t v = 0; v < vcpus_.size(); ++v) highest[v] = vcpus_[v]->horizon.load(std::memory_order_relaxed);
  // Counted before anyone can consume them.
  pending_.fetch_add(chunk->size() - first, std::memory_order_relaxed);
  for (size_t i = first; i < chunk->size(); ++i) {
    Record& record = (*chunk)[i];
    const auto landmark = [&](Landmark at) { SawLandmark(at, index, highest, true, false); };
    std::visit(
        [&](const auto& r) {
          using T = std::decay_t<decltype(r)>;
          if constexpr (std::is_same_v<T, CheckpointRecord>) {
            for (const auto& v : r.checkpoint.vcpus) landmark(v.at);
          } else if constexpr (std::is_same_v<T, CrewTransferRecord>) {
            SawLandmark(r.from, index, highest, false, false);
            landmark(r.to);
          } else if constexpr (std::is_same_v<T, MachineStopRecord>) {
            SawLandmark(r.exit_at, index, highest, false, false);  // where the exit was written, before the end
            for (const auto& v : r.final_state.vcpus) landmark(v.at);
          } else {
            // An input, or a store-conditional's outcome, is what the instruction at its
            // count did (others come before that instruction).
            constexpr bool kInput = std::is_same_v<T, InputRecord>;
            bool during = kInput;
            if constexpr (std::is_same_v<T, RareOutcomeRecord>) during = r.kind == InputKind::kStoreConditional;
            SawLandmark(r.at, index, highest, true, during);
          }
        },
        record);
    if (copy_) copy_(record);
    Distribute(record, index);
  }
  for (size_t v = 0; v < vcpus_.size(); ++v) vcpus_[v]->horizon.store(highest[v], std::memory_order_release);
}

size_t ReplayingWorld::SkipToResumePointLocked(const std::vector<Record>& chunk, int64_t index) {
  const Checkpoint& cut = *options_.resume_after;
  for (size_t i = 0; i < chunk.size(); ++i) {
    const auto* logged = std::get_if<CheckpointRecord>(&chunk[i]);
    if (logged == nullptr) continue;
    const Checkpoint& c = logged->checkpoint;
    bool same_place = c.vcpus.size() == cut.vcpus.size();
    bool past = false;
    for (size_t v = 0; same_place && v < c.vcpus.size(); ++v) {
      same_place = c.vcpus[v].at.count == cut.vcpus[v].at.count;
      past = past || c.vcpus[v].at.count > cut.vcpus[v].at.count;
    }
    for (size_t v = 0; !same_place && v < std::min(c.vcpus.size(), cut.vcpus.size()); ++v)
      past = past || c.vcpus[v].at.count > cut.vcpus[v].at.count;
    if (same_place) {
      // The place matches; the state must too, or the image is of another run of this guest.
      const std::vector<Divergence> differences = CompareCheckpoints(c, cut);
      if (!differences.empty()) {
        throw UnreplayableLog("the state image does not match the log's checkpoint at its cut (chunk " +
                              std::to_string(index) + ", " + DescribeCut(cut) + "): " + differences.front().what +
                              " differs; the image was not taken from this log");
      }
      skipping_ = false;
      return i + 1;
    }
    if (past) {
      throw UnreplayableLog("the log's checkpoints pass the state image's cut (" + DescribeCut(cut) +
                            ") without one there (chunk " + std::to_string(index) +
                            "): the image was not taken from this log");
    }
  }
  return chunk.size();
}

// Records of one vCPU are in its execution order (docs/log-format.md, "Order"), except two
// landmarks that name a past point: the `from` side of a CREW edge (the holder yielded
// there, ran on, and the edge was logged when the requester got the page, possibly after
// more of the holder's records), and the stop record's exit landmark. Every
// other landmark is at or above everything logged before it for its vCPU; one below means
// the log was reordered or damaged, and following it could deadlock vCPUs that wait for
// each other. On one vCPU nothing waits: a misplaced record is a divergence where the guest
// reaches it (the engine reports the landmark). Any landmark, `from` included, shows that
// the vCPU's records below it have been read (the horizon).
void ReplayingWorld::SawLandmark(Landmark at, int64_t chunk, std::vector<uint64_t>& highest, bool ordered,
                                 bool during) {
  VcpuLog& v = *vcpus_[at.vcpu];
  if (ordered && vcpus_.size() > 1 && at.count < v.last_count) {
    throw LogOrderError("the log is out of order in chunk " + std::to_string(chunk) + ": vcpu " +
                        std::to_string(at.vcpu) + " @ " + std::to_string(at.count) + " after @ " +
                        std::to_string(v.last_count) +
                        " (records reordered, or a CREW edge past a vCPU's end or forming a cycle)");
  }
  if (at.count > v.last_count) {
    v.last_count = at.count;
    v.last_is_during = during;
  } else if (at.count == v.last_count) {
    v.last_is_during = v.last_is_during || during;
  }
  highest[at.vcpu] = std::max(highest[at.vcpu], at.count);
}

// Hands a decoded record to whoever consumes it. Counted in pending_ by the caller; those
// consumed elsewhere or never are uncounted here.
void ReplayingWorld::Distribute(Record& record, int64_t /*chunk*/) {
  std::visit(
      [&](auto& r) {
        using T = std::decay_t<decltype(r)>;
        if constexpr (std::is_same_v<T, InputRecord>) {
          VcpuLog& v = *vcpus_[r.at.vcpu];
          std::lock_guard lock(v.mutex);
          v.inputs.push_back(r);
        } else if constexpr (std::is_same_v<T, RareOutcomeRecord>) {
          VcpuLog& v = *vcpus_[r.at.vcpu];
          std::lock_guard lock(v.mutex);
          v.rare_outcomes.push_back(r);
        } else if constexpr (std::is_same_v<T, InterruptRecord>) {
          VcpuLog& v = *vcpus_[r.at.vcpu];
          std::lock_guard lock(v.mutex);
          v.interrupts.emplace_back(r, checkpoints_decoded_);
        } else if constexpr (std::is_same_v<T, CheckpointRecord>) {
          if (options_.cuts_void_records_at_their_landmarks) {
            VoidRecordsAt(r.checkpoint);
            if (transfers_.cut) transfers_.cut(r.checkpoint);
          }
          std::lock_guard lock(machine_mutex_);
          checkpoints_.push_back(std::move(r.checkpoint));
          ++checkpoints_decoded_;
        } else if constexpr (std::is_same_v<T, CrewTransferRecord>) {
          Consumed(1);  // the follower counts it from here
          if (transfers_.add) transfers_.add(r);
        } else if constexpr (std::is_same_v<T, CrewFaultRecord>) {
          Consumed(1);  // the follower keeps it from here
          if (transfers_.add_fault) transfers_.add_fault(r);
        } else if constexpr (std::is_same_v<T, MachineStopRecord>) {
          Consumed(1);
          std::lock_guard lock(machine_mutex_);
          stop_ = std::move(r);
        } else if constexpr (std::is_same_v<T, DelayedInterruptRecord>) {
          // Replay needs only where and which; the delay is for `rrkit log stats`.
          VcpuLog& v = *vcpus_[r.at.vcpu];
          std::lock_guard lock(v.mutex);
          v.interrupts.emplace_back(InterruptRecord{r.at, r.cause}, checkpoints_decoded_);
        } else if constexpr (std::is_same_v<T, ModeSwitchRecord> || std::is_same_v<T, TurnSwitchRecord>) {
          Consumed(1);  // the follower counts it from here
          if (!serial_.add) {
            throw LogOrderError("the log holds a serialized-mode record (vcpu " + std::to_string(r.at.vcpu) + " @ " +
                                std::to_string(r.at.count) + ") on a machine of one vCPU");
          }
          serial_.add(SerialModeRecord{r, checkpoints_decoded_});
        } else if constexpr (std::is_same_v<T, HostTimeRecord>) {
          Consumed(1);  // wall-clock samples are for the timeline: nothing the replay feeds the guest
        } else {
          static_assert(std::is_same_v<T, DmaWriteRecord> || std::is_same_v<T, DiskReadRecord>);
          // An engine with DMA devices (kvm) takes these from its vCPU's queue; one without
          // (emu) cannot have recorded any.
          if (!options_.replays_dma_writes) {
            Consumed(1);
            throw UnreplayableLog("the log holds a DMA write (vcpu " + std::to_string(r.at.vcpu) + " @ " +
                                        std::to_string(r.at.count) + "), which the " + header_.engine +
                                        " engine has no device for: it was not recorded on " + header_.engine);
          }
          VcpuLog& v = *vcpus_[r.at.vcpu];
          std::lock_guard lock(v.mutex);
          if constexpr (std::is_same_v<T, DmaWriteRecord>) {
            const uint64_t length = r.data.size();
            v.dmas.push_back(DmaWrite{r.at, r.address, std::move(r.data), false, 0, length});
          } else {
            v.dmas.push_back(DmaWrite{r.at, r.address, {}, true, r.disk_offset, r.length});
          }
        }
      },
      record);
}

void ReplayingWorld::VoidRecordsAt(const Checkpoint& cut) {
  size_t voided = 0;
  for (const Checkpoint::Vcpu& at : cut.vcpus) {
    if (at.at.vcpu >= vcpus_.size()) continue;  // refused where the engine takes the cut
    VcpuLog& v = *vcpus_[at.at.vcpu];
    std::lock_guard lock(v.mutex);
    const auto drop = [&](auto& queue, auto count_of) {
      while (!queue.empty() && count_of(queue.back()) >= at.at.count) {
        queue.pop_back();
        ++voided;
      }
    };
    drop(v.inputs, [](const InputRecord& r) { return r.at.count; });
    drop(v.rare_outcomes, [](const RareOutcomeRecord& r) { return r.at.count; });
    drop(v.interrupts, [](const std::pair<InterruptRecord, uint64_t>& r) { return r.first.at.count; });
    drop(v.dmas, [](const DmaWrite& r) { return r.at.count; });
  }
  Consumed(voided);
}

void ReplayingWorld::EndLocked() {
  ended_ = true;
  for (auto& v : vcpus_) v->horizon.store(kNever, std::memory_order_release);
  room_cv_.notify_all();
}

bool ReplayingWorld::log_ended() const {
  std::lock_guard lock(decode_mutex_);
  return ended_;
}

bool ReplayingWorld::log_complete() const {
  std::lock_guard lock(decode_mutex_);
  return ended_ && reader_->complete();
}

ReplayReport ReplayingWorld::report() const {
  ReplayReport out;
  {
    std::lock_guard lock(decode_mutex_);
    out.chunks = reader_->chunks_read();
    out.records = reader_->records_read();
    out.ended = ended_;
    out.complete = ended_ && reader_->complete();
  }
  std::lock_guard lock(machine_mutex_);
  out.checkpoints_compared = checkpoints_compared_;
  out.last_matching_checkpoint = last_matching_;
  out.damage = damage_;
  return out;
}

// --- what the engine asks ---------------------------------------------------------------

ReplayingWorld::VcpuLog& ReplayingWorld::ForVcpu(Landmark at) {
  if (at.vcpu >= vcpus_.size()) {
    throw Divergence{at, "vcpu", "below " + std::to_string(vcpus_.size()), std::to_string(at.vcpu)};
  }
  return *vcpus_[at.vcpu];
}

uint64_t ReplayingWorld::Input(Landmark at, InputKind kind, const std::function<uint64_t()>&) {
  VcpuLog& v = ForVcpu(at);
  // An engine runs to the horizon before it asks; one that asks beyond it gets the log read on.
  if (v.horizon.load(std::memory_order_acquire) <= at.count) Advance(at.vcpu, at.count);
  std::lock_guard lock(v.mutex);
  if (v.inputs.empty()) throw Divergence{at, "input", "no more inputs", KindName(kind) + " " + At(at.count)};
  const InputRecord& next = v.inputs.front();
  if (next.at.count != at.count) {
    throw Divergence{at, "input landmark", KindName(next.kind) + " " + At(next.at.count), KindName(kind) + " " + At(at.count)};
  }
  if (next.kind != kind) throw Divergence{at, "input kind", KindName(next.kind), KindName(kind)};
  const uint64_t value = next.value;
  v.inputs.pop_front();
  Consumed(1);
  return value;
}

uint64_t ReplayingWorld::RareOutcome(Landmark at, InputKind kind, uint64_t usual, const std::function<uint64_t()>&) {
  VcpuLog& v = ForVcpu(at);
  if (v.horizon.load(std::memory_order_acquire) <= at.count) Advance(at.vcpu, at.count);
  std::lock_guard lock(v.mutex);
  if (v.rare_outcomes.empty()) return usual;
  const RareOutcomeRecord& next = v.rare_outcomes.front();
  if (next.at.count < at.count) {  // the guest went past a logged outcome without asking
    throw Divergence{at, "rare outcome", KindName(next.kind) + " " + At(next.at.count), "none before " + At(at.count)};
  }
  if (next.at.count != at.count || next.kind != kind) return usual;
  const uint64_t value = next.value;
  v.rare_outcomes.pop_front();
  Consumed(1);
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
  Consumed(1);
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
  Checkpoint expected = std::move(checkpoints_.front());
  checkpoints_.pop_front();
  Consumed(1);
  const std::vector<Divergence> differences = CompareCheckpoints(expected, checkpoint);
  if (!differences.empty()) throw differences.front();
  ++checkpoints_compared_;
  last_matching_ = std::move(expected);
}

void ReplayingWorld::MachineStopped(Landmark exit_at, int exit_code, const Checkpoint& final_state,
                                    const OutputDigest& output) {
  // The stop record is the log's last: read on to it and then to the log's end (the
  // trailer). Records before it are more to replay, which the checks below report. (This
  // used to stop reading as soon as anything was pending, before the stop record too: a
  // machine that stopped early then compared nothing with the recording, and was reported
  // as replaying an incomplete log.) More than a lookahead's worth of log before the stop
  // record: the machine stopped early.
  bool stopped_early = false;
  {
    std::unique_lock lock(decode_mutex_);
    while (!ended_ && !cancelled_) {
      const bool stop_read = stopped_in_log();
      if (stop_read && pending_.load(std::memory_order_relaxed) != 0) break;  // reported below
      if (!stop_read && PendingTotal() >= options_.lookahead_records) {
        stopped_early = true;
        break;
      }
      DecodeChunkLocked();
    }
  }
  if (stopped_early) {
    throw Divergence{exit_at, "machine stop", "the log goes on (more than " + std::to_string(options_.lookahead_records) +
                     " records before its stop record)", "machine stopped"};
  }
  {
    std::lock_guard lock(machine_mutex_);
    if (!stop_) return;  // an incomplete log read to its end (or a cancelled replay): nothing recorded to compare with
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
  Consumed(1);
}

std::optional<DmaWrite> ReplayingWorld::ScheduledDma(uint32_t vcpu) {
  VcpuLog& v = ForVcpu({vcpu, 0});
  std::lock_guard lock(v.mutex);
  if (v.dmas.empty()) return std::nullopt;
  return v.dmas.front();
}

std::optional<std::vector<uint64_t>> ReplayingWorld::FinalLandmarks() {
  {
    std::lock_guard lock(machine_mutex_);
    if (stop_) {
      std::vector<uint64_t> counts;
      for (const auto& v : stop_->final_state.vcpus) counts.push_back(v.at.count);
      return counts;
    }
  }
  // An incomplete log read to its end: as far as it vouches. (A stop record without the
  // trailer, a crash between the two, says where to end, above.)
  if (FinalLandmarksEndAnIncompleteLog()) return LastLandmarks();
  return std::nullopt;
}

bool ReplayingWorld::FinalLandmarksEndAnIncompleteLog() const {
  if (stopped_in_log()) return false;
  std::lock_guard lock(decode_mutex_);
  return ended_ && !damage_.has_value() && !reader_->complete();
}

bool ReplayingWorld::stopped_in_log() const {
  std::lock_guard lock(machine_mutex_);
  return stop_.has_value();
}

}  // namespace rrkit::replay
