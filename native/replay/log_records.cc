#include "replay/log_records.h"

#include <iterator>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "replay/log_format.h"

namespace rrkit::replay {
namespace {

static_assert(std::tuple_size_v<decltype(InputHistory::last_value)> > kMaxInputKind);

// The two streams of a payload being written.
struct Streams {
  ByteWriter events;
  ByteWriter values;
};

// The two streams of a payload being read.
struct Readers {
  ByteReader& events;
  ByteReader& values;
};

using Vcpus = std::vector<VcpuCodecState>;

// --- Shared pieces --------------------------------------------------------------------

// A landmark: vcpu, then the zigzag delta from that vCPU's previous count (mod 2^64).
void PutLandmark(ByteWriter& w, Vcpus& vcpus, Landmark at) {
  w.Varint(at.vcpu);
  w.SignedVarint(static_cast<int64_t>(at.count - vcpus[at.vcpu].count));
  vcpus[at.vcpu].count = at.count;
}

uint32_t GetVcpu(ByteReader& r, size_t vcpus) {
  const size_t at = r.position();
  const uint64_t vcpu = r.Varint();
  if (vcpu >= vcpus) r.Fail(LogErrorCode::kBadRecord, at, "vcpu " + std::to_string(vcpu) + " out of range");
  return static_cast<uint32_t>(vcpu);
}

uint64_t GetCount(ByteReader& r, Vcpus& vcpus, uint32_t vcpu) {
  vcpus[vcpu].count += static_cast<uint64_t>(r.SignedVarint());
  return vcpus[vcpu].count;
}

Landmark GetLandmark(ByteReader& r, Vcpus& vcpus) {
  const uint32_t vcpu = GetVcpu(r, vcpus.size());
  return {vcpu, GetCount(r, vcpus, vcpu)};
}

InputKind GetInputKind(ByteReader& r) {
  const size_t at = r.position();
  const uint8_t kind = r.U8();
  if (kind == 0 || kind > kMaxInputKind) r.Fail(LogErrorCode::kBadRecord, at, "unknown input kind " + std::to_string(kind));
  return static_cast<InputKind>(kind);
}

// An input's value, by kind: a clock read as its difference from the prediction, entropy
// as its 8 bytes (random: nothing predicts it), anything else as its difference from the
// vCPU's previous value of that kind.
void PutInputValue(ByteWriter& w, InputHistory& history, uint64_t count, InputKind kind, uint64_t value) {
  switch (kind) {
    case InputKind::kClock:
      w.SignedVarint(static_cast<int64_t>(value - history.clock.Predict(count)));
      history.clock.Observe(count, value);
      return;
    case InputKind::kEntropy: w.FixedLe(value, 8); return;
    default: {
      uint64_t& last = history.last_value[static_cast<uint8_t>(kind)];
      w.SignedVarint(static_cast<int64_t>(value - last));
      last = value;
    }
  }
}
uint64_t GetInputValue(ByteReader& r, InputHistory& history, uint64_t count, InputKind kind) {
  switch (kind) {
    case InputKind::kClock: {
      const uint64_t value = history.clock.Predict(count) + static_cast<uint64_t>(r.SignedVarint());
      history.clock.Observe(count, value);
      return value;
    }
    case InputKind::kEntropy: return r.FixedLe(8);
    default: {
      uint64_t& last = history.last_value[static_cast<uint8_t>(kind)];
      last += static_cast<uint64_t>(r.SignedVarint());
      return last;
    }
  }
}

// A checkpoint body. Events: n, then each vCPU's count delta. Values: each vCPU's register
// hash, then the memory hash.
void PutCheckpoint(Streams& s, Vcpus& vcpus, const Checkpoint& c) {
  s.events.Varint(c.vcpus.size());
  for (size_t i = 0; i < c.vcpus.size(); ++i) {
    s.events.SignedVarint(static_cast<int64_t>(c.vcpus[i].at.count - vcpus[i].count));
    vcpus[i].count = c.vcpus[i].at.count;
    s.values.FixedLe(c.vcpus[i].register_hash, 8);
  }
  s.values.FixedLe(c.memory_hash, 8);
}
Checkpoint GetCheckpoint(Readers& r, Vcpus& vcpus) {
  const size_t at = r.events.position();
  const uint64_t n = r.events.Varint();
  if (n != vcpus.size()) {
    r.events.Fail(LogErrorCode::kBadRecord, at,
                  "checkpoint has " + std::to_string(n) + " vcpus, machine has " + std::to_string(vcpus.size()));
  }
  Checkpoint c;
  c.vcpus.resize(n);
  for (uint32_t i = 0; i < n; ++i) c.vcpus[i].at = {i, GetCount(r.events, vcpus, i)};
  for (uint32_t i = 0; i < n; ++i) c.vcpus[i].register_hash = r.values.FixedLe(8);
  c.memory_hash = r.values.FixedLe(8);
  return c;
}

// --- One encode/decode pair per record kind --------------------------------------------

// kInput, or kRepeatedInput when the vCPU's previous input in this chunk had the same
// input kind and the same landmark delta: then only the vCPU and the value are written.
void Put(Streams& s, Vcpus& vcpus, const InputRecord& r) {
  VcpuCodecState& v = vcpus[r.at.vcpu];
  const uint64_t delta = r.at.count - v.count;
  const bool repeated = v.inputs.last_kind == static_cast<uint8_t>(r.kind) && v.inputs.last_delta == delta;
  if (repeated) {
    s.events.U8(static_cast<uint8_t>(RecordKind::kRepeatedInput));
    s.events.Varint(r.at.vcpu);
    v.count = r.at.count;
  } else {
    s.events.U8(static_cast<uint8_t>(RecordKind::kInput));
    PutLandmark(s.events, vcpus, r.at);
    s.events.U8(static_cast<uint8_t>(r.kind));
    v.inputs.last_kind = static_cast<uint8_t>(r.kind);
    v.inputs.last_delta = delta;
  }
  PutInputValue(s.values, v.inputs, r.at.count, r.kind, r.value);
}
InputRecord GetInput(Readers& r, Vcpus& vcpus) {
  InputRecord out;
  out.at.vcpu = GetVcpu(r.events, vcpus.size());
  VcpuCodecState& v = vcpus[out.at.vcpu];
  const uint64_t before = v.count;
  out.at.count = GetCount(r.events, vcpus, out.at.vcpu);
  out.kind = GetInputKind(r.events);
  v.inputs.last_kind = static_cast<uint8_t>(out.kind);
  v.inputs.last_delta = out.at.count - before;
  out.value = GetInputValue(r.values, v.inputs, out.at.count, out.kind);
  return out;
}
InputRecord GetRepeatedInput(Readers& r, Vcpus& vcpus) {
  const size_t at = r.events.position();
  InputRecord out;
  out.at.vcpu = GetVcpu(r.events, vcpus.size());
  VcpuCodecState& v = vcpus[out.at.vcpu];
  if (v.inputs.last_kind == 0) {
    r.events.Fail(LogErrorCode::kBadRecord, at,
                  "repeated input for vcpu " + std::to_string(out.at.vcpu) + " with no input before it in this chunk");
  }
  v.count += v.inputs.last_delta;
  out.at.count = v.count;
  out.kind = static_cast<InputKind>(v.inputs.last_kind);
  out.value = GetInputValue(r.values, v.inputs, out.at.count, out.kind);
  return out;
}

void Put(Streams& s, Vcpus& vcpus, const RareOutcomeRecord& r) {
  PutLandmark(s.events, vcpus, r.at);
  s.events.U8(static_cast<uint8_t>(r.kind));
  s.values.Varint(r.value);
}
RareOutcomeRecord GetRareOutcome(Readers& r, Vcpus& vcpus) {
  RareOutcomeRecord out;
  out.at = GetLandmark(r.events, vcpus);
  out.kind = GetInputKind(r.events);
  out.value = r.values.Varint();
  return out;
}

void Put(Streams& s, Vcpus& vcpus, const InterruptRecord& r) {
  PutLandmark(s.events, vcpus, r.at);
  s.events.Varint(r.cause);
}
InterruptRecord GetInterrupt(Readers& r, Vcpus& vcpus) {
  InterruptRecord out;
  out.at = GetLandmark(r.events, vcpus);
  out.cause = r.events.Varint();
  return out;
}

void Put(Streams& s, Vcpus& vcpus, const CheckpointRecord& r) { PutCheckpoint(s, vcpus, r.checkpoint); }
CheckpointRecord GetCheckpointRecord(Readers& r, Vcpus& vcpus) { return {GetCheckpoint(r, vcpus)}; }

void Put(Streams& s, Vcpus& vcpus, const CrewTransferRecord& r) {
  s.events.Varint(r.page);
  PutLandmark(s.events, vcpus, r.from);
  PutLandmark(s.events, vcpus, r.to);
}
CrewTransferRecord GetCrewTransfer(Readers& r, Vcpus& vcpus) {
  CrewTransferRecord out;
  out.page = r.events.Varint();
  out.from = GetLandmark(r.events, vcpus);
  out.to = GetLandmark(r.events, vcpus);
  return out;
}

void Put(Streams& s, Vcpus& vcpus, const MachineStopRecord& r) {
  PutLandmark(s.events, vcpus, r.exit_at);
  s.events.SignedVarint(r.exit_code);
  PutCheckpoint(s, vcpus, r.final_state);
  s.events.Varint(r.output.bytes);
  s.values.FixedLe(r.output.hash, 8);
}
MachineStopRecord GetMachineStop(Readers& r, Vcpus& vcpus) {
  MachineStopRecord out;
  out.exit_at = GetLandmark(r.events, vcpus);
  out.exit_code = r.events.SignedVarint();
  out.final_state = GetCheckpoint(r, vcpus);
  out.output.bytes = r.events.Varint();
  out.output.hash = r.values.FixedLe(8);
  return out;
}

void Put(Streams& s, Vcpus& vcpus, const DmaWriteRecord& r) {
  PutLandmark(s.events, vcpus, r.at);
  s.events.Varint(r.address);
  s.events.Varint(r.data.size());
  s.values.Bytes(r.data);
}
DmaWriteRecord GetDmaWrite(Readers& r, Vcpus& vcpus) {
  DmaWriteRecord out;
  out.at = GetLandmark(r.events, vcpus);
  out.address = r.events.Varint();
  const uint64_t length = r.events.Varint();
  auto data = r.values.Bytes(static_cast<size_t>(length), "DMA data");
  out.data.assign(data.begin(), data.end());
  return out;
}

void Put(Streams& s, Vcpus& vcpus, const DelayedInterruptRecord& r) {
  PutLandmark(s.events, vcpus, r.at);
  s.events.Varint(r.cause);
  s.values.Varint(r.delay_ns);
}
DelayedInterruptRecord GetDelayedInterrupt(Readers& r, Vcpus& vcpus) {
  DelayedInterruptRecord out;
  out.at = GetLandmark(r.events, vcpus);
  out.cause = r.events.Varint();
  out.delay_ns = r.values.Varint();
  return out;
}

void Put(Streams& s, Vcpus& vcpus, const DiskReadRecord& r) {
  PutLandmark(s.events, vcpus, r.at);
  s.events.Varint(r.address);
  s.events.Varint(r.disk_offset);
  s.events.Varint(r.length);
}
DiskReadRecord GetDiskRead(Readers& r, Vcpus& vcpus) {
  DiskReadRecord out;
  out.at = GetLandmark(r.events, vcpus);
  out.address = r.events.Varint();
  out.disk_offset = r.events.Varint();
  out.length = r.events.Varint();
  return out;
}

void Put(Streams& s, Vcpus& vcpus, const ModeSwitchRecord& r) {
  PutLandmark(s.events, vcpus, r.at);
  s.events.Varint(r.group);
  s.events.U8(r.serialized ? 1 : 0);
}
ModeSwitchRecord GetModeSwitch(Readers& r, Vcpus& vcpus) {
  ModeSwitchRecord out;
  out.at = GetLandmark(r.events, vcpus);
  out.group = r.events.Varint();
  const size_t at = r.events.position();
  const uint8_t mode = r.events.U8();
  if (mode > 1) r.events.Fail(LogErrorCode::kBadRecord, at, "unknown mode " + std::to_string(mode));
  out.serialized = mode == 1;
  return out;
}

// kTurnSwitch, or kRepeatedTurnSwitch (the kind byte alone) when the vCPU is the one the
// chunk's previous turn switch handed the turn to, and its count moved as far as to its
// previous turn switch in this chunk, and it hands the turn to the same vCPU as then: a
// round robin of turns of equal lengths (a handshake's passes) costs a byte per turn.
void PutTurnSwitch(Streams& s, Vcpus& vcpus, uint32_t& handed_to, const TurnSwitchRecord& r) {
  VcpuCodecState& v = vcpus[r.at.vcpu];
  const uint64_t delta = r.at.count - v.count;
  if (handed_to == r.at.vcpu && v.has_turn && v.turn_delta == delta && v.turn_next == r.next) {
    s.events.U8(static_cast<uint8_t>(RecordKind::kRepeatedTurnSwitch));
    v.count = r.at.count;
  } else {
    s.events.U8(static_cast<uint8_t>(RecordKind::kTurnSwitch));
    PutLandmark(s.events, vcpus, r.at);
    s.events.Varint(r.next);  // checked by Validate
  }
  v.has_turn = true;
  v.turn_delta = delta;
  v.turn_next = r.next;
  handed_to = r.next;
}
TurnSwitchRecord GetTurnSwitch(Readers& r, Vcpus& vcpus, uint32_t& handed_to) {
  TurnSwitchRecord out;
  out.at.vcpu = GetVcpu(r.events, vcpus.size());
  VcpuCodecState& v = vcpus[out.at.vcpu];
  const uint64_t before = v.count;
  out.at.count = GetCount(r.events, vcpus, out.at.vcpu);
  out.next = GetVcpu(r.events, vcpus.size());
  v.has_turn = true;
  v.turn_delta = out.at.count - before;
  v.turn_next = out.next;
  handed_to = out.next;
  return out;
}
// `at`: where its kind byte is.
TurnSwitchRecord GetRepeatedTurnSwitch(Readers& r, Vcpus& vcpus, uint32_t& handed_to, size_t at) {
  if (handed_to == kNoTurnYet) r.events.Fail(LogErrorCode::kBadRecord, at, "repeated turn switch with no turn switch before it in this chunk");
  VcpuCodecState& v = vcpus[handed_to];
  if (!v.has_turn) {
    r.events.Fail(LogErrorCode::kBadRecord, at,
                  "repeated turn switch for vcpu " + std::to_string(handed_to) + " with no turn switch of its own before it in this chunk");
  }
  v.count += v.turn_delta;
  const TurnSwitchRecord out{{handed_to, v.count}, v.turn_next};
  handed_to = v.turn_next;
  return out;
}

void Put(Streams& s, Vcpus& vcpus, const HostTimeRecord& r) {
  PutLandmark(s.events, vcpus, r.at);
  s.events.U8(static_cast<uint8_t>(r.activity));  // checked by Validate
  s.values.Varint(r.ns);
}
HostTimeRecord GetHostTime(Readers& r, Vcpus& vcpus) {
  HostTimeRecord out;
  out.at = GetLandmark(r.events, vcpus);
  const size_t at = r.events.position();
  const uint8_t activity = r.events.U8();
  if (activity == 0 || activity > kMaxVcpuActivity) {
    r.events.Fail(LogErrorCode::kBadRecord, at, "unknown vCPU activity " + std::to_string(activity));
  }
  out.activity = static_cast<VcpuActivity>(activity);
  out.ns = r.values.Varint();
  return out;
}

void Put(Streams& s, Vcpus& vcpus, const CrewFaultRecord& r) {
  PutLandmark(s.events, vcpus, r.at);
  s.events.Varint(r.page << 1 | (r.write ? 1 : 0));  // Validate: the page fits in 63 bits
  s.events.Varint(r.edges);
}
CrewFaultRecord GetCrewFault(Readers& r, Vcpus& vcpus) {
  CrewFaultRecord out;
  out.at = GetLandmark(r.events, vcpus);
  const uint64_t page_and_write = r.events.Varint();
  out.page = page_and_write >> 1;
  out.write = (page_and_write & 1) != 0;
  out.edges = r.events.Varint();
  return out;
}

// The two streams of a payload: a varint length, the events, then the values.
std::pair<ByteReader, ByteReader> SplitPayload(std::span<const uint8_t> payload, uint64_t file_offset, int64_t chunk) {
  ByteReader head(payload, file_offset, chunk, LogErrorCode::kBadRecord);
  const uint64_t length = head.Varint();
  if (length > head.remaining()) head.Fail(LogErrorCode::kBadRecord, 0, "event stream longer than the payload");
  const size_t events_at = head.position();
  const size_t values_at = events_at + static_cast<size_t>(length);
  return {ByteReader(payload.subspan(events_at, static_cast<size_t>(length)), file_offset + events_at, chunk,
                     LogErrorCode::kBadRecord),
          ByteReader(payload.subspan(values_at), file_offset + values_at, chunk, LogErrorCode::kBadRecord)};
}

}  // namespace

RecordKind KindOf(const Record& record) {
  static constexpr RecordKind kKinds[] = {RecordKind::kInput,        RecordKind::kRareOutcome, RecordKind::kInterrupt,
                                          RecordKind::kCheckpoint,   RecordKind::kCrewTransfer, RecordKind::kMachineStop,
                                          RecordKind::kDmaWrite,     RecordKind::kDelayedInterrupt, RecordKind::kDiskRead,
                                          RecordKind::kModeSwitch,   RecordKind::kTurnSwitch,  RecordKind::kHostTime,
                                          RecordKind::kCrewFault};
  static_assert(std::size(kKinds) == std::variant_size_v<Record>);
  return kKinds[record.index()];
}

void ChunkEncoder::Validate(const Record& record) const {
  const auto landmark = [&](Landmark at) {
    if (at.vcpu >= vcpus_.size()) throw std::invalid_argument("log record: vcpu " + std::to_string(at.vcpu) + " out of range");
  };
  const auto checkpoint = [&](const Checkpoint& c) {
    if (c.vcpus.size() != vcpus_.size()) throw std::invalid_argument("log record: checkpoint needs one entry per vcpu");
    for (size_t i = 0; i < c.vcpus.size(); ++i) {
      if (c.vcpus[i].at.vcpu != i) throw std::invalid_argument("log record: checkpoint entries must be in vcpu order");
    }
  };
  std::visit(
      [&](const auto& r) {
        using T = std::decay_t<decltype(r)>;
        if constexpr (std::is_same_v<T, CheckpointRecord>) {
          checkpoint(r.checkpoint);
        } else if constexpr (std::is_same_v<T, CrewTransferRecord>) {
          landmark(r.from);
          landmark(r.to);
        } else if constexpr (std::is_same_v<T, MachineStopRecord>) {
          landmark(r.exit_at);
          checkpoint(r.final_state);
        } else {
          landmark(r.at);
          if constexpr (std::is_same_v<T, InputRecord> || std::is_same_v<T, RareOutcomeRecord>) {
            const auto kind = static_cast<uint8_t>(r.kind);
            if (kind == 0 || kind > kMaxInputKind) throw std::invalid_argument("log record: unknown input kind " + std::to_string(kind));
          }
          if constexpr (std::is_same_v<T, DmaWriteRecord>) {
            if (r.data.size() > kMaxChunkPayloadBytes / 2) throw std::invalid_argument("log record: DMA write larger than 2 MiB");
          }
          if constexpr (std::is_same_v<T, TurnSwitchRecord>) {
            if (r.next >= vcpus_.size()) throw std::invalid_argument("log record: turn to vcpu " + std::to_string(r.next) + " out of range");
          }
          if constexpr (std::is_same_v<T, HostTimeRecord>) {
            const auto activity = static_cast<uint8_t>(r.activity);
            if (activity == 0 || activity > kMaxVcpuActivity) throw std::invalid_argument("log record: unknown vCPU activity " + std::to_string(activity));
          }
          if constexpr (std::is_same_v<T, CrewFaultRecord>) {
            // The page shares a varint with the write bit.
            if (r.page >> 63 != 0) throw std::invalid_argument("log record: CREW fault page " + std::to_string(r.page) + " does not fit in 63 bits");
          }
        }
      },
      record);
}

void ChunkEncoder::Append(const Record& record) {
  Validate(record);
  Streams s{ByteWriter(events_), ByteWriter(values_)};
  std::visit(
      [&](const auto& r) {
        using T = std::decay_t<decltype(r)>;
        if constexpr (std::is_same_v<T, InputRecord>) {
          Put(s, vcpus_, r);  // writes its kind: kInput or kRepeatedInput
        } else if constexpr (std::is_same_v<T, TurnSwitchRecord>) {
          PutTurnSwitch(s, vcpus_, handed_to_, r);  // kTurnSwitch or kRepeatedTurnSwitch
        } else {
          s.events.U8(static_cast<uint8_t>(KindOf(record)));
          Put(s, vcpus_, r);
        }
      },
      record);
  ++records_;
}

std::vector<uint8_t> ChunkEncoder::Take() {
  std::vector<uint8_t> out;
  out.reserve(events_.size() + values_.size() + kMaxVarintBytes);
  ByteWriter w(out);
  w.Varint(events_.size());
  w.Bytes(events_);
  w.Bytes(values_);
  events_.clear();
  values_.clear();
  records_ = 0;
  for (VcpuCodecState& v : vcpus_) v = VcpuCodecState{};
  handed_to_ = kNoTurnYet;
  return out;
}

ChunkDecoder::ChunkDecoder(std::span<const uint8_t> payload, uint64_t file_offset, int64_t chunk_index, uint32_t vcpus)
    : ChunkDecoder(SplitPayload(payload, file_offset, chunk_index), vcpus) {}

ChunkDecoder::ChunkDecoder(std::pair<ByteReader, ByteReader> streams, uint32_t vcpus)
    : events_(streams.first), values_(streams.second), vcpus_(vcpus) {}

std::optional<Record> ChunkDecoder::Next() {
  if (events_.done()) {
    if (!values_.done()) {
      values_.Fail(LogErrorCode::kBadRecord, values_.position(),
                   std::to_string(values_.remaining()) + " value bytes no record uses");
    }
    return std::nullopt;
  }
  const size_t at = events_.position();
  const uint8_t kind = events_.U8();
  Readers r{events_, values_};
  switch (static_cast<RecordKind>(kind)) {
    case RecordKind::kInput: return GetInput(r, vcpus_);
    case RecordKind::kRareOutcome: return GetRareOutcome(r, vcpus_);
    case RecordKind::kInterrupt: return GetInterrupt(r, vcpus_);
    case RecordKind::kCheckpoint: return GetCheckpointRecord(r, vcpus_);
    case RecordKind::kCrewTransfer: return GetCrewTransfer(r, vcpus_);
    case RecordKind::kMachineStop: return GetMachineStop(r, vcpus_);
    case RecordKind::kDmaWrite: return GetDmaWrite(r, vcpus_);
    case RecordKind::kDelayedInterrupt: return GetDelayedInterrupt(r, vcpus_);
    case RecordKind::kDiskRead: return GetDiskRead(r, vcpus_);
    case RecordKind::kRepeatedInput: return GetRepeatedInput(r, vcpus_);
    case RecordKind::kModeSwitch: return GetModeSwitch(r, vcpus_);
    case RecordKind::kTurnSwitch: return GetTurnSwitch(r, vcpus_, handed_to_);
    case RecordKind::kRepeatedTurnSwitch: return GetRepeatedTurnSwitch(r, vcpus_, handed_to_, at);
    case RecordKind::kHostTime: return GetHostTime(r, vcpus_);
    case RecordKind::kCrewFault: return GetCrewFault(r, vcpus_);
  }
  events_.Fail(LogErrorCode::kBadRecord, at, "unknown record kind " + std::to_string(kind));
}

}  // namespace rrkit::replay
