#include "replay/log_records.h"

#include <iterator>
#include <stdexcept>
#include <string>

#include "replay/log_format.h"

namespace rrkit::replay {
namespace {

// --- Shared pieces: a landmark is (vcpu, zigzag delta from that vCPU's previous count). ---

void PutLandmark(ByteWriter& w, std::vector<uint64_t>& previous, Landmark at) {
  if (at.vcpu >= previous.size()) throw std::invalid_argument("log record: vcpu " + std::to_string(at.vcpu) + " out of range");
  w.Varint(at.vcpu);
  w.SignedVarint(static_cast<int64_t>(at.count - previous[at.vcpu]));
  previous[at.vcpu] = at.count;
}

uint32_t GetVcpu(ByteReader& r, size_t vcpus) {
  const size_t at = r.position();
  const uint64_t vcpu = r.Varint();
  if (vcpu >= vcpus) r.Fail(LogErrorCode::kBadRecord, at, "vcpu " + std::to_string(vcpu) + " out of range");
  return static_cast<uint32_t>(vcpu);
}

// Wrapping arithmetic, as in PutLandmark: the delta is the difference mod 2^64.
uint64_t GetCount(ByteReader& r, std::vector<uint64_t>& previous, uint32_t vcpu) {
  previous[vcpu] += static_cast<uint64_t>(r.SignedVarint());
  return previous[vcpu];
}

Landmark GetLandmark(ByteReader& r, std::vector<uint64_t>& previous) {
  const uint32_t vcpu = GetVcpu(r, previous.size());
  return {vcpu, GetCount(r, previous, vcpu)};
}

void PutInputKind(ByteWriter& w, InputKind kind) { w.U8(static_cast<uint8_t>(kind)); }
InputKind GetInputKind(ByteReader& r) {
  const size_t at = r.position();
  const uint8_t kind = r.U8();
  if (kind == 0 || kind > kMaxInputKind) r.Fail(LogErrorCode::kBadRecord, at, "unknown input kind " + std::to_string(kind));
  return static_cast<InputKind>(kind);
}

// A checkpoint body: for vCPU 0..n-1 its count delta and register hash, then the memory hash.
void PutCheckpoint(ByteWriter& w, std::vector<uint64_t>& previous, const Checkpoint& c) {
  if (c.vcpus.size() != previous.size()) throw std::invalid_argument("log record: checkpoint needs one entry per vcpu");
  w.Varint(c.vcpus.size());
  for (size_t i = 0; i < c.vcpus.size(); ++i) {
    if (c.vcpus[i].at.vcpu != i) throw std::invalid_argument("log record: checkpoint entries must be in vcpu order");
    w.SignedVarint(static_cast<int64_t>(c.vcpus[i].at.count - previous[i]));
    previous[i] = c.vcpus[i].at.count;
    w.FixedLe(c.vcpus[i].register_hash, 8);
  }
  w.FixedLe(c.memory_hash, 8);
}
Checkpoint GetCheckpoint(ByteReader& r, std::vector<uint64_t>& previous) {
  const size_t at = r.position();
  const uint64_t n = r.Varint();
  if (n != previous.size()) r.Fail(LogErrorCode::kBadRecord, at, "checkpoint has " + std::to_string(n) + " vcpus, machine has " + std::to_string(previous.size()));
  Checkpoint c;
  c.vcpus.resize(n);
  for (uint32_t i = 0; i < n; ++i) {
    c.vcpus[i].at = {i, GetCount(r, previous, i)};
    c.vcpus[i].register_hash = r.FixedLe(8);
  }
  c.memory_hash = r.FixedLe(8);
  return c;
}

// --- One encode/decode pair per record kind. ---

void Put(ByteWriter& w, std::vector<uint64_t>& p, const InputRecord& r) {
  PutLandmark(w, p, r.at);
  PutInputKind(w, r.kind);
  w.Varint(r.value);
}
InputRecord GetInput(ByteReader& r, std::vector<uint64_t>& p) {
  InputRecord out;
  out.at = GetLandmark(r, p);
  out.kind = GetInputKind(r);
  out.value = r.Varint();
  return out;
}

void Put(ByteWriter& w, std::vector<uint64_t>& p, const RareOutcomeRecord& r) {
  PutLandmark(w, p, r.at);
  PutInputKind(w, r.kind);
  w.Varint(r.value);
}
RareOutcomeRecord GetRareOutcome(ByteReader& r, std::vector<uint64_t>& p) {
  RareOutcomeRecord out;
  out.at = GetLandmark(r, p);
  out.kind = GetInputKind(r);
  out.value = r.Varint();
  return out;
}

void Put(ByteWriter& w, std::vector<uint64_t>& p, const InterruptRecord& r) {
  PutLandmark(w, p, r.at);
  w.Varint(r.cause);
}
InterruptRecord GetInterrupt(ByteReader& r, std::vector<uint64_t>& p) {
  InterruptRecord out;
  out.at = GetLandmark(r, p);
  out.cause = r.Varint();
  return out;
}

void Put(ByteWriter& w, std::vector<uint64_t>& p, const CheckpointRecord& r) { PutCheckpoint(w, p, r.checkpoint); }
CheckpointRecord GetCheckpointRecord(ByteReader& r, std::vector<uint64_t>& p) { return {GetCheckpoint(r, p)}; }

void Put(ByteWriter& w, std::vector<uint64_t>& p, const CrewTransferRecord& r) {
  w.Varint(r.page);
  PutLandmark(w, p, r.from);
  PutLandmark(w, p, r.to);
}
CrewTransferRecord GetCrewTransfer(ByteReader& r, std::vector<uint64_t>& p) {
  CrewTransferRecord out;
  out.page = r.Varint();
  out.from = GetLandmark(r, p);
  out.to = GetLandmark(r, p);
  return out;
}

void Put(ByteWriter& w, std::vector<uint64_t>& p, const MachineStopRecord& r) {
  PutLandmark(w, p, r.exit_at);
  w.SignedVarint(r.exit_code);
  PutCheckpoint(w, p, r.final_state);
  w.Varint(r.output.bytes);
  w.FixedLe(r.output.hash, 8);
}
MachineStopRecord GetMachineStop(ByteReader& r, std::vector<uint64_t>& p) {
  MachineStopRecord out;
  out.exit_at = GetLandmark(r, p);
  out.exit_code = r.SignedVarint();
  out.final_state = GetCheckpoint(r, p);
  out.output.bytes = r.Varint();
  out.output.hash = r.FixedLe(8);
  return out;
}

void Put(ByteWriter& w, std::vector<uint64_t>& p, const DmaWriteRecord& r) {
  PutLandmark(w, p, r.at);
  w.Varint(r.address);
  w.Blob(r.data);
}
DmaWriteRecord GetDmaWrite(ByteReader& r, std::vector<uint64_t>& p) {
  DmaWriteRecord out;
  out.at = GetLandmark(r, p);
  out.address = r.Varint();
  auto data = r.Blob(kMaxChunkPayloadBytes, "DMA data");
  out.data.assign(data.begin(), data.end());
  return out;
}

void Put(ByteWriter& w, std::vector<uint64_t>& p, const DelayedInterruptRecord& r) {
  PutLandmark(w, p, r.at);
  w.Varint(r.cause);
  w.Varint(r.delay_ns);
}
DelayedInterruptRecord GetDelayedInterrupt(ByteReader& r, std::vector<uint64_t>& p) {
  DelayedInterruptRecord out;
  out.at = GetLandmark(r, p);
  out.cause = r.Varint();
  out.delay_ns = r.Varint();
  return out;
}

void Put(ByteWriter& w, std::vector<uint64_t>& p, const DiskReadRecord& r) {
  PutLandmark(w, p, r.at);
  w.Varint(r.address);
  w.Varint(r.disk_offset);
  w.Varint(r.length);
}
DiskReadRecord GetDiskRead(ByteReader& r, std::vector<uint64_t>& p) {
  DiskReadRecord out;
  out.at = GetLandmark(r, p);
  out.address = r.Varint();
  out.disk_offset = r.Varint();
  out.length = r.Varint();
  return out;
}

void Put(ByteWriter& w, std::vector<uint64_t>& p, const CrewFaultRecord& r) {
  // The page shares a varint with the write bit.
  if (r.page >> 63 != 0) throw std::invalid_argument("log record: CREW fault page " + std::to_string(r.page) + " does not fit in 63 bits");
  PutLandmark(w, p, r.at);
  w.Varint(r.page << 1 | (r.write ? 1 : 0));
  w.Varint(r.edges);
}
CrewFaultRecord GetCrewFault(ByteReader& r, std::vector<uint64_t>& p) {
  CrewFaultRecord out;
  out.at = GetLandmark(r, p);
  const uint64_t page_and_write = r.Varint();
  out.page = page_and_write >> 1;
  out.write = (page_and_write & 1) != 0;
  out.edges = r.Varint();
  return out;
}

}  // namespace

RecordKind KindOf(const Record& record) {
  static constexpr RecordKind kKinds[] = {RecordKind::kInput,        RecordKind::kRareOutcome, RecordKind::kInterrupt,
                                          RecordKind::kCheckpoint,   RecordKind::kCrewTransfer, RecordKind::kMachineStop,
                                          RecordKind::kDmaWrite,     RecordKind::kDelayedInterrupt, RecordKind::kDiskRead,
                                          RecordKind::kCrewFault};
  static_assert(std::size(kKinds) == std::variant_size_v<Record>);
  return kKinds[record.index()];
}

void ChunkEncoder::Append(const Record& record) {
  // Encode into a scratch copy first so that a rejected record leaves the chunk untouched.
  std::vector<uint64_t> previous = previous_;
  const size_t size_before = payload_.size();
  ByteWriter w(payload_);
  w.U8(static_cast<uint8_t>(KindOf(record)));
  try {
    std::visit([&](const auto& r) { Put(w, previous, r); }, record);
  } catch (...) {
    payload_.resize(size_before);
    throw;
  }
  previous_ = std::move(previous);
  ++records_;
}

std::vector<uint8_t> ChunkEncoder::Take() {
  std::vector<uint8_t> out = std::move(payload_);
  payload_.clear();
  records_ = 0;
  std::fill(previous_.begin(), previous_.end(), 0);
  return out;
}

ChunkDecoder::ChunkDecoder(std::span<const uint8_t> payload, uint64_t file_offset, int64_t chunk_index, uint32_t vcpus)
    : reader_(payload, file_offset, chunk_index, LogErrorCode::kBadRecord), previous_(vcpus, 0) {}

std::optional<Record> ChunkDecoder::Next() {
  if (reader_.done()) return std::nullopt;
  const size_t at = reader_.position();
  const uint8_t kind = reader_.U8();
  switch (static_cast<RecordKind>(kind)) {
    case RecordKind::kInput: return GetInput(reader_, previous_);
    case RecordKind::kRareOutcome: return GetRareOutcome(reader_, previous_);
    case RecordKind::kInterrupt: return GetInterrupt(reader_, previous_);
    case RecordKind::kCheckpoint: return GetCheckpointRecord(reader_, previous_);
    case RecordKind::kCrewTransfer: return GetCrewTransfer(reader_, previous_);
    case RecordKind::kMachineStop: return GetMachineStop(reader_, previous_);
    case RecordKind::kDmaWrite: return GetDmaWrite(reader_, previous_);
    case RecordKind::kDelayedInterrupt: return GetDelayedInterrupt(reader_, previous_);
    case RecordKind::kDiskRead: return GetDiskRead(reader_, previous_);
    case RecordKind::kCrewFault: return GetCrewFault(reader_, previous_);
  }
  reader_.Fail(LogErrorCode::kBadRecord, at, "unknown record kind " + std::to_string(kind));
}

}  // namespace rrkit::replay
