// The records of an rrkit log. The RecordKind enum IS the format: append only, never
// renumber, and any change to a record's layout bumps kLogFormatVersion. Each kind's encoder
// and decoder sit next to each other in log_records.cc.
//
// A chunk's payload is two streams: events (kinds, vCPUs, landmark deltas, pages, counts)
// and values (values from the world, hashes, DMA bytes). Events repeat and compress to
// almost nothing; values are what the world really said. Counts are delta encoded per vCPU
// and input values predicted from the vCPU's previous ones (value_prediction.h), all
// within a chunk (each chunk starts from zero), so that any chunk decodes on its own: a
// replica can start from shipped chunks and a damaged chunk costs only itself.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <utility>
#include <variant>
#include <vector>

#include "replay/value_prediction.h"
#include "replay/varint.h"
#include "replay/world.h"

namespace rrkit::replay {

enum class RecordKind : uint8_t {
  kInput = 1,         // a value from the world (World::Input)
  kRareOutcome = 2,   // an unusual outcome (World::RareOutcome)
  kInterrupt = 3,     // an asynchronous interrupt and where it was taken
  kCheckpoint = 4,    // per-vCPU landmark + register hash, and the memory hash
  kCrewTransfer = 5,  // CREW ownership edge: page, vcpu A @ a -> vcpu B @ b
  kMachineStop = 6,   // the machine stopped: who, where, exit code, final state
  kDmaWrite = 7,      // bytes a device wrote into guest memory (the kvm board's disk)
  kDelayedInterrupt = 8,  // an interrupt, where it was taken, and how long after it fell due (kvm)
  kDiskRead = 9,      // a DMA from a disk the replay holds a copy of (--disk-shared): where, not the bytes
  kRepeatedInput = 10,  // an input shaped like its vCPU's previous one (decodes to InputRecord)
  kModeSwitch = 11,   // serialized mode: a vCPU joins or leaves a group, where it stopped
  kTurnSwitch = 12,   // serialized mode: a vCPU's turn ends at a count; who holds it next
  kHostTime = 13,     // a vCPU's landmark paired with host time, and what it did from then on (--wall-samples)
  kCrewFault = 14,    // kvm SMP: a vCPU stopped on a page it had no right to (a landmark of its own)
  // A turn switch shaped like its vCPU's previous one, by the vCPU the chunk's previous turn
  // switch handed the turn to (decodes to TurnSwitchRecord): a round robin of equal turns.
  kRepeatedTurnSwitch = 21,
};

// What a vCPU did from a host-time sample on (HostTimeRecord). Part of the format: append only.
enum class VcpuActivity : uint8_t {
  kRunning = 1,    // executing the guest
  kPageWait = 2,   // waiting for a CREW page another vCPU holds
  kCut = 3,        // paused at a checkpoint cut, waiting for the others
  kSleep = 4,      // asleep in wfi (or hlt) until an interrupt
  kSpinWait = 5,   // asleep in a guest spin-wait (cpu_relax) until its pages may have changed
  kStopped = 6,    // done: it runs no more
};
inline constexpr uint8_t kMaxVcpuActivity = static_cast<uint8_t>(VcpuActivity::kStopped);
// The highest InputKind this format version knows (world.h; append only, bump the version).
inline constexpr uint8_t kMaxInputKind = static_cast<uint8_t>(InputKind::kWfiWake);

struct InputRecord {
  Landmark at;
  InputKind kind = InputKind::kClock;
  uint64_t value = 0;
};
struct RareOutcomeRecord {
  Landmark at;
  InputKind kind = InputKind::kStoreConditional;
  uint64_t value = 0;
};
struct InterruptRecord {
  Landmark at;
  uint64_t cause = 0;
};
// vcpus[i].at.vcpu == i for every i, and there is one entry per vCPU of the machine.
struct CheckpointRecord {
  Checkpoint checkpoint;
};
// `from` gave up its rights to `page` (guest-physical address / granularity) at its count;
// `to` gained them at its count. Replay: `to` waits at its count until `from` has passed its.
struct CrewTransferRecord {
  uint64_t page = 0;
  Landmark from;
  Landmark to;
};
struct MachineStopRecord {
  Landmark exit_at;
  int64_t exit_code = 0;
  Checkpoint final_state;
  OutputDigest output;
};
struct DmaWriteRecord {
  Landmark at;
  uint64_t address = 0;  // guest-physical
  std::vector<uint8_t> data;
};
// Serialized mode (docs/crew.md): `at.vcpu`, stopped at `at.count`, joins group `group`
// (serialized) or leaves it. A group's mode and turn switches are in the group's order.
struct ModeSwitchRecord {
  Landmark at;
  uint64_t group = 0;
  bool serialized = false;
};
// Serialized mode: `at.vcpu`'s turn ends at `at.count`; `next` holds the group's turn from
// there (a group's first turn: next == at.vcpu, where it joined).
struct TurnSwitchRecord {
  Landmark at;
  uint32_t next = 0;
};

// An interrupt taken at `at`, `delay_ns` after it fell due: kvm delivers interrupts only at
// VM exits, and the log keeps how long each waited (for `rrkit log stats`; replay needs
// only the landmark and the cause).
struct DelayedInterruptRecord {
  Landmark at;
  uint64_t cause = 0;
  uint64_t delay_ns = 0;
};
// The disk wrote `length` bytes from `disk_offset` of its image to guest-physical `address`
// at `at`; the bytes are not in the log (the replay reads its own copy of the image).
struct DiskReadRecord {
  Landmark at;
  uint64_t address = 0;
  uint64_t disk_offset = 0;
  uint64_t length = 0;
};

// At `at`, `ns` nanoseconds after the machine started running (host monotonic clock), the
// vCPU began `activity`. Only for the timeline (`rrkit log timeline --wall`): replay needs none.
struct HostTimeRecord {
  Landmark at;
  uint64_t ns = 0;
  VcpuActivity activity = VcpuActivity::kRunning;
};

// kvm SMP recording: at landmark `at` the vCPU stopped on an access to `page` that its
// rights did not allow (`write`: it wanted to write). Such a stop is a landmark, as exact
// as an exit; replay takes the page away from that vCPU just before it, so that it stops
// at the same instruction, then checks that `edges` transfer edges lead into it (docs/kvm-smp.md).
struct CrewFaultRecord {
  Landmark at;
  uint64_t page = 0;
  bool write = false;
  uint64_t edges = 0;
};

using Record = std::variant<InputRecord, RareOutcomeRecord, InterruptRecord, CheckpointRecord, CrewTransferRecord,
                            MachineStopRecord, DmaWriteRecord, DelayedInterruptRecord, DiskReadRecord, ModeSwitchRecord,
                            TurnSwitchRecord, HostTimeRecord, CrewFaultRecord>;

// The kind a record is written as when not repeated (kRepeatedInput decodes to kInput,
// kRepeatedTurnSwitch to kTurnSwitch).
RecordKind KindOf(const Record& record);

// Per-vCPU state both directions share within a chunk: the previous count, and what the
// next input is predicted from.
struct VcpuCodecState {
  uint64_t count = 0;
  InputHistory inputs;
  // Its previous turn switch in this chunk: how far its count moved to it, and to whom it
  // handed the turn.
  bool has_turn = false;
  uint64_t turn_delta = 0;
  uint32_t turn_next = 0;
};

// The vCPU the chunk's previous turn switch handed the turn to, if any.
inline constexpr uint32_t kNoTurnYet = UINT32_MAX;

// Encodes records into one chunk's payload. Not thread safe (the writer serialises).
class ChunkEncoder {
 public:
  explicit ChunkEncoder(uint32_t vcpus) : vcpus_(vcpus) {}

  // Throws std::invalid_argument for a record that cannot be valid (vCPU out of range,
  // checkpoint without one entry per vCPU), leaving the chunk untouched.
  void Append(const Record& record);
  // The payload's size if it were taken now.
  size_t bytes() const { return events_.size() + values_.size() + kMaxVarintBytes; }
  uint32_t records() const { return records_; }
  bool empty() const { return records_ == 0; }
  // The payload so far (events length, events, values); resets the encoder for the next chunk.
  std::vector<uint8_t> Take();

 private:
  void Validate(const Record& record) const;

  std::vector<VcpuCodecState> vcpus_;
  uint32_t handed_to_ = kNoTurnYet;
  std::vector<uint8_t> events_;
  std::vector<uint8_t> values_;
  uint32_t records_ = 0;
};

// Decodes one chunk's payload (already CRC-checked and decoded from its codec), throwing
// LogError(kBadRecord). `file_offset` is where the payload would start in the file:
// error offsets are it plus the position in the payload.
class ChunkDecoder {
 public:
  ChunkDecoder(std::span<const uint8_t> payload, uint64_t file_offset, int64_t chunk_index, uint32_t vcpus);

  std::optional<Record> Next();

 private:
  ChunkDecoder(std::pair<ByteReader, ByteReader> streams, uint32_t vcpus);

  ByteReader events_;
  ByteReader values_;
  std::vector<VcpuCodecState> vcpus_;
  uint32_t handed_to_ = kNoTurnYet;
};

}  // namespace rrkit::replay
