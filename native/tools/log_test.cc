// Unit tests for native/replay: CRC32C, varints, the writer and reader, every record kind,
// bad input, and the recording and replaying worlds driven by a fake multi-threaded engine.
// Each test runs alone with --run NAME (test_harness.h); test/log-native.test.ts runs each
// as its own vitest case.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <exception>
#include <cstdio>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <cstring>
#include <filesystem>
#include <unistd.h>

#include "replay/chunk_codec.h"
#include "replay/chunk_sink.h"
#include "replay/chunk_source.h"
#include "replay/crc32c.h"
#include "replay/log_reader.h"
#include "replay/log_writer.h"
#include "replay/recording_world.h"
#include "replay/replaying_world.h"
#include "replay/varint.h"
#include "tools/test_harness.h"

using namespace rrkit::replay;

namespace {

// Runs `body` and checks that it throws a LogError with `code` in `chunk`.
void CheckLogError(int line, const std::function<void()>& body, LogErrorCode code, int64_t chunk) {
  try {
    body();
    rrkit::testing::Fail(__FILE__, line, std::string("expected ") + LogErrorCodeName(code) + ", nothing thrown");
  } catch (const LogError& e) {
    if (e.code() != code || e.chunk() != chunk) {
      rrkit::testing::Fail(__FILE__, line, std::string("expected ") + LogErrorCodeName(code) + " in chunk " +
                                               std::to_string(chunk) + ", got: " + e.what());
    }
  }
}
#define CHECK_LOG_ERROR(body, code, chunk) CheckLogError(__LINE__, [&] { body; }, code, chunk)

LogHeader TestHeader(uint32_t vcpus) {
  LogHeader h;
  h.engine = "emu";
  h.image_hash = std::vector<uint8_t>(32, 0xAB);
  h.image_path = "guests/rv64/build/hello.elf";
  h.vcpus = vcpus;
  h.ram_mib = 128;
  h.crew_granularity = 4096;
  h.checkpoint_interval = 1000000;
  h.start_unix_ms = 1700000000000;
  h.config_json = R"({"timer_hz":1000})";
  return h;
}

Checkpoint MakeCheckpoint(const std::vector<uint64_t>& counts, uint64_t salt) {
  Checkpoint c;
  for (uint32_t i = 0; i < counts.size(); ++i) c.vcpus.push_back({{i, counts[i]}, salt * 31 + i});
  c.memory_hash = salt ^ 0xFEEDFACECAFEBEEFull;
  return c;
}

std::vector<uint8_t> WriteLog(const LogHeader& header, const std::vector<Record>& records, bool close,
                              size_t max_chunk_bytes = 24) {
  auto sink = std::make_shared<MemoryChunkSink>();
  {
    LogWriter writer(header, sink, {max_chunk_bytes, std::chrono::milliseconds(1000)});
    for (const Record& r : records) writer.Append(r);
    if (close) writer.Close();
  }
  return sink->bytes();
}

std::vector<Record> OneOfEachKind() {
  return {
      InputRecord{{0, 100}, InputKind::kClock, 123456789},
      InputRecord{{1, 50}, InputKind::kEntropy, 0xFFFFFFFFFFFFFFFFull},
      RareOutcomeRecord{{1, 60}, InputKind::kStoreConditional, 1},
      InterruptRecord{{0, 90}, 7},  // a count below the previous one on vcpu 0: negative delta
      CheckpointRecord{MakeCheckpoint({1000, 2000}, 5)},
      CrewTransferRecord{0x80042, {0, 1500}, {1, 2500}},
      DmaWriteRecord{{0, 3000}, 0x80001000, {1, 2, 3, 4, 5}},
      DelayedInterruptRecord{{1, 3100}, 0x20, 123456},
      DiskReadRecord{{0, 3200}, 0x200000, 4096 * 512, 65536},
      HostTimeRecord{{1, 3300}, 1'234'567'890, VcpuActivity::kPageWait},
      CrewFaultRecord{{1, 3300}, 0x80043, true, 2},
      CrewFaultRecord{{0, 3250}, 0x7fffffffffffffffull, false, 0},  // the largest page the page/write packing holds
      MachineStopRecord{{1, 9000}, -3, MakeCheckpoint({8000, 9000}, 6), {42, 0x1234567890abcdefull}},
      ModeSwitchRecord{{1, 9100}, 7, true},
      TurnSwitchRecord{{1, 9200}, 0},
      ModeSwitchRecord{{0, 9300}, 7, false},
  };
}

bool SameCheckpoint(const Checkpoint& a, const Checkpoint& b) {
  if (a.vcpus.size() != b.vcpus.size() || a.memory_hash != b.memory_hash) return false;
  for (size_t i = 0; i < a.vcpus.size(); ++i) {
    if (a.vcpus[i].at.vcpu != b.vcpus[i].at.vcpu || a.vcpus[i].at.count != b.vcpus[i].at.count ||
        a.vcpus[i].register_hash != b.vcpus[i].register_hash)
      return false;
  }
  return true;
}

bool SameLandmark(Landmark a, Landmark b) { return a.vcpu == b.vcpu && a.count == b.count; }

bool SameRecord(const Record& a, const Record& b) {
  if (a.index() != b.index()) return false;
  return std::visit(
      [&](const auto& x) -> bool {
        using T = std::decay_t<decltype(x)>;
        const T& y = std::get<T>(b);
        if constexpr (std::is_same_v<T, InputRecord> || std::is_same_v<T, RareOutcomeRecord>)
          return SameLandmark(x.at, y.at) && x.kind == y.kind && x.value == y.value;
        else if constexpr (std::is_same_v<T, InterruptRecord>)
          return SameLandmark(x.at, y.at) && x.cause == y.cause;
        else if constexpr (std::is_same_v<T, CheckpointRecord>)
          return SameCheckpoint(x.checkpoint, y.checkpoint);
        else if constexpr (std::is_same_v<T, CrewTransferRecord>)
          return x.page == y.page && SameLandmark(x.from, y.from) && SameLandmark(x.to, y.to);
        else if constexpr (std::is_same_v<T, MachineStopRecord>)
          return SameLandmark(x.exit_at, y.exit_at) && x.exit_code == y.exit_code &&
                 SameCheckpoint(x.final_state, y.final_state) && x.output.bytes == y.output.bytes && x.output.hash == y.output.hash;
        else if constexpr (std::is_same_v<T, DmaWriteRecord>)
          return SameLandmark(x.at, y.at) && x.address == y.address && x.data == y.data;
        else if constexpr (std::is_same_v<T, DelayedInterruptRecord>)
          return SameLandmark(x.at, y.at) && x.cause == y.cause && x.delay_ns == y.delay_ns;
        else if constexpr (std::is_same_v<T, HostTimeRecord>)
          return SameLandmark(x.at, y.at) && x.ns == y.ns && x.activity == y.activity;
        else if constexpr (std::is_same_v<T, CrewFaultRecord>)
          return SameLandmark(x.at, y.at) && x.page == y.page && x.write == y.write && x.edges == y.edges;
        else if constexpr (std::is_same_v<T, DiskReadRecord>)
          return SameLandmark(x.at, y.at) && x.address == y.address && x.disk_offset == y.disk_offset && x.length == y.length;
        else if constexpr (std::is_same_v<T, ModeSwitchRecord>)
          return SameLandmark(x.at, y.at) && x.group == y.group && x.serialized == y.serialized;
        else
          return SameLandmark(x.at, y.at) && x.next == y.next;
      },
      a);
}

TEST(TestCrc32c, "CRC32C: the standard check value, chained") {
  const std::string text = "123456789";
  const std::span<const uint8_t> bytes{reinterpret_cast<const uint8_t*>(text.data()), text.size()};
  CHECK(Crc32c(bytes) == 0xE3069283u);  // the standard CRC32C check value
  CHECK(Crc32c(bytes.subspan(4), Crc32c(bytes.first(4))) == 0xE3069283u);
  CHECK(Crc32c({}) == 0);
}

TEST(TestCrc32cAgainstBitwise, "CRC32C: every length and alignment agrees with a bit-by-bit reference") {
  std::mt19937_64 random(7);
  std::vector<uint8_t> data(4096 + 16);
  for (auto& b : data) b = static_cast<uint8_t>(random());
  auto reference = [](std::span<const uint8_t> bytes) {
    uint32_t crc = 0xFFFFFFFFu;
    for (uint8_t byte : bytes) {
      crc ^= byte;
      for (int bit = 0; bit < 8; ++bit) crc = (crc & 1u) ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
    }
    return ~crc;
  };
  for (size_t offset = 0; offset < 8; ++offset) {
    for (size_t length : {0u, 1u, 7u, 8u, 9u, 63u, 64u, 65u, 4095u, 4096u}) {
      const std::span<const uint8_t> bytes(data.data() + offset, length);
      CHECK(Crc32c(bytes) == reference(bytes));
    }
  }
}

TEST(TestVarint, "varints: round trip, zigzag, overlong and cut ones refused") {
  const uint64_t values[] = {0, 1, 127, 128, 300, 16383, 16384, (1ull << 32) - 1, (1ull << 63), ~0ull};
  std::vector<uint8_t> bytes;
  ByteWriter w(bytes);
  for (uint64_t v : values) w.Varint(v);
  const int64_t signed_values[] = {0, -1, 1, -64, 64, INT64_MIN, INT64_MAX};
  for (int64_t v : signed_values) w.SignedVarint(v);
  CHECK(bytes[0] == 0 && bytes[1] == 1 && bytes[2] == 127 && bytes[3] == 0x80 && bytes[4] == 0x01);
  ByteReader r(bytes, 0, 0, LogErrorCode::kBadRecord);
  for (uint64_t v : values) CHECK(r.Varint() == v);
  for (int64_t v : signed_values) CHECK(r.SignedVarint() == v);
  CHECK(r.done());
  CHECK(ZigZag(-1) == 1 && ZigZag(1) == 2);
  std::vector<uint8_t> overlong(11, 0xFF);
  CHECK_LOG_ERROR(ByteReader(overlong, 0, 3, LogErrorCode::kBadRecord).Varint(), LogErrorCode::kBadRecord, 3);
  std::vector<uint8_t> cut = {0x80, 0x80};
  CHECK_LOG_ERROR(ByteReader(cut, 0, 3, LogErrorCode::kBadRecord).Varint(), LogErrorCode::kBadRecord, 3);
}

TEST(TestRoundTrip, "writer and reader: every record kind round trips, closed and incomplete") {
  const auto records = OneOfEachKind();
  for (bool close : {true, false}) {
    const LogContents log = ReadLog(WriteLog(TestHeader(2), records, close));
    CHECK(log.complete == close);
    CHECK(log.chunks > 2);  // 24-byte chunks: several
    CHECK(log.header.engine == "emu" && log.header.vcpus == 2 && log.header.image_hash.size() == 32);
    CHECK(log.header.config_json == R"({"timer_hz":1000})" && log.header.start_unix_ms == 1700000000000);
    CHECK(log.records.size() == records.size());
    for (size_t i = 0; i < records.size() && i < log.records.size(); ++i) CHECK(SameRecord(records[i], log.records[i]));
    if (close) CHECK(log.trailer && log.trailer->record_count == records.size() && log.trailer->chunk_count == log.chunks);
  }
  // A log with no records at all is valid.
  const LogContents empty = ReadLog(WriteLog(TestHeader(1), {}, true));
  CHECK(empty.complete && empty.records.empty() && empty.chunks == 0);
}

TEST(TestInvalidRecordsRejected, "writer: invalid records refused, the log stays valid") {
  auto sink = std::make_shared<MemoryChunkSink>();
  LogWriter writer(TestHeader(2), sink);
  bool threw = false;
  try {
    writer.Append(InputRecord{{2, 1}, InputKind::kClock, 0});
  } catch (const std::invalid_argument&) {
    threw = true;
  }
  CHECK(threw);
  threw = false;
  try {
    writer.Append(CheckpointRecord{MakeCheckpoint({1}, 1)});  // one entry for two vcpus
  } catch (const std::invalid_argument&) {
    threw = true;
  }
  CHECK(threw);
  threw = false;
  try {
    writer.Append(TurnSwitchRecord{{0, 1}, 2});  // the turn to a vCPU the machine lacks
  } catch (const std::invalid_argument&) {
    threw = true;
  }
  CHECK(threw);
  threw = false;
  try {
    writer.Append(CrewFaultRecord{{0, 3}, 1ull << 63, true, 0});  // the page would lose its top bit
  } catch (const std::invalid_argument&) {
    threw = true;
  }
  CHECK(threw);
  writer.Append(InputRecord{{1, 5}, InputKind::kClock, 9});
  writer.Close();
  const LogContents log = ReadLog(sink->bytes());
  CHECK(log.records.size() == 1 && log.complete);
}

TEST(TestBadSerialRecords, "reader: a mode switch to an unknown mode, or a turn to a vCPU out of range, is a bad record") {
  // Payloads of events only (the event stream's length first, no values). Kind 11 (mode
  // switch): vcpu 0, delta +5 (zigzag 10), group 3, mode 2.
  const std::vector<uint8_t> bad_mode{5, 11, 0, 10, 3, 2};
  CHECK_LOG_ERROR((void)ChunkDecoder(bad_mode, 100, 4, 2).Next(), LogErrorCode::kBadRecord, 4);
  // kind 12 (turn switch): vcpu 1, delta +5, next 2 on a 2-vCPU machine.
  const std::vector<uint8_t> bad_next{4, 12, 1, 10, 2};
  CHECK_LOG_ERROR((void)ChunkDecoder(bad_next, 100, 4, 2).Next(), LogErrorCode::kBadRecord, 4);
  const std::vector<uint8_t> good{9, 11, 0, 10, 3, 1, 12, 0, 2, 1};
  ChunkDecoder decoder(good, 100, 4, 2);
  const std::optional<Record> join = decoder.Next();
  const std::optional<Record> turn = decoder.Next();
  CHECK(join && SameRecord(*join, ModeSwitchRecord{{0, 5}, 3, true}));
  CHECK(turn && SameRecord(*turn, TurnSwitchRecord{{0, 6}, 1}));
  CHECK(!decoder.Next());
}

TEST(TestRepeatedTurnSwitches, "turn switches: a round robin of equal turns is a byte per turn; a repeat with nothing to repeat is a bad record") {
  // Encoded directly: 3 vCPUs hand the turn round, each turn 27 instructions, but for one
  // longer turn, which is written whole (and so is that vCPU's next one).
  ChunkEncoder encoder(3);
  std::vector<Record> turns;
  uint64_t counts[3] = {100, 200, 300};
  for (uint32_t i = 0; i < 300; ++i) {
    const uint32_t v = i % 3;
    counts[v] += i == 150 ? 40 : 27;
    turns.push_back(TurnSwitchRecord{{v, counts[v]}, (v + 1) % 3});
    encoder.Append(turns.back());
  }
  const std::vector<uint8_t> payload = encoder.Take();
  CHECK(payload.size() < 300 + 3 * 8 + 2 * 8);  // a byte each, but for the first round and the longer turn's two
  ChunkDecoder decoder(payload, 0, 0, 3);
  size_t decoded = 0;
  while (const std::optional<Record> r = decoder.Next()) {
    CHECK(decoded < turns.size() && SameRecord(*r, turns[decoded]));
    ++decoded;
  }
  CHECK(decoded == turns.size());
  // Kind 21 as the chunk's first turn switch, or for a vCPU with none of its own before it.
  const std::vector<uint8_t> nothing_before{1, 21};
  CHECK_LOG_ERROR((void)ChunkDecoder(nothing_before, 100, 4, 2).Next(), LogErrorCode::kBadRecord, 4);
  const std::vector<uint8_t> none_of_its_own{5, 12, 1, 10, 0, 21};
  ChunkDecoder second(none_of_its_own, 100, 4, 2);
  CHECK(second.Next().has_value());
  CHECK_LOG_ERROR((void)second.Next(), LogErrorCode::kBadRecord, 4);
}

TEST(TestSealsByAge, "writer: an open chunk is sealed once it is old enough") {
  auto sink = std::make_shared<MemoryChunkSink>();
  LogWriter writer(TestHeader(1), sink, {1 << 20, std::chrono::milliseconds(20)});
  writer.Append(InputRecord{{0, 1}, InputKind::kClock, 1});
  bool sealed = false;
  for (int i = 0; i < 200 && !sealed; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    sealed = sink->frames() == 2;  // header + the aged chunk, without any further append
  }
  CHECK(sealed);
  // What has reached the sink so far reads as an incomplete log holding the record.
  const LogContents partial = ReadLog(sink->bytes());
  CHECK(!partial.complete && partial.records.size() == 1);
  writer.Close();
}

TEST(TestConcurrentAppends, "writer: appends from four threads keep each vCPU's order") {
  constexpr uint32_t kVcpus = 4;
  constexpr uint64_t kPerVcpu = 5000;
  auto sink = std::make_shared<MemoryChunkSink>();
  {
    LogWriter writer(TestHeader(kVcpus), sink, {512, std::chrono::milliseconds(5)});
    std::vector<std::thread> threads;
    for (uint32_t v = 0; v < kVcpus; ++v) {
      threads.emplace_back([&writer, v] {
        for (uint64_t i = 0; i < kPerVcpu; ++i) writer.Append(InputRecord{{v, i * 10}, InputKind::kEntropy, i * kVcpus + v});
      });
    }
    for (auto& t : threads) t.join();
    writer.Close();
  }
  const LogContents log = ReadLog(sink->bytes());
  CHECK(log.complete && log.records.size() == kVcpus * kPerVcpu && log.chunks > 10);
  std::vector<uint64_t> next(kVcpus, 0);
  bool in_order = true;
  for (const Record& r : log.records) {
    const auto& input = std::get<InputRecord>(r);
    const uint32_t v = input.at.vcpu;
    in_order = in_order && input.at.count == next[v] * 10 && input.value == next[v] * kVcpus + v;
    ++next[v];
  }
  CHECK(in_order);
}

// A sink that takes nothing until opened: the writer's I/O thread blocks in Write().
class GatedSink final : public ChunkSink {
 public:
  void Write(Frame /*frame*/, std::span<const uint8_t> bytes) override {
    std::unique_lock lock(mutex_);
    open_cv_.wait(lock, [this] { return open_; });
    bytes_ += bytes.size();
  }
  void Flush() override {}
  void Open() {
    {
      std::lock_guard lock(mutex_);
      open_ = true;
    }
    open_cv_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable open_cv_;
  bool open_ = false;
  size_t bytes_ = 0;
};

TEST(TestWriterBackpressure, "writer: with the sink stuck, appends wait once the queued chunks reach the bound, then go on") {
  auto sink = std::make_shared<GatedSink>();
  LogWriter::Options options;
  options.max_chunk_bytes = 1024;
  options.max_queued_bytes = 16 * 1024;
  LogWriter writer(TestHeader(1), sink, options);
  constexpr uint64_t kRecords = 20'000;  // ~180 KB of entropy values: far beyond the bound
  std::atomic<uint64_t> appended{0};
  std::thread appender([&] {
    for (uint64_t i = 0; i < kRecords; ++i) {
      writer.Append(InputRecord{{0, i * 7}, InputKind::kEntropy, i * 0x9e3779b97f4a7c15ull});
      appended.store(i + 1);
    }
  });
  // The header's write blocks the I/O thread; the appender must stop near the bound
  // (16 KiB of ~9-byte records, plus the batch the I/O thread holds) rather than run on.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const uint64_t stalled_at = appended.load();
  CHECK(stalled_at < kRecords);
  CHECK(stalled_at < 4'000);
  sink->Open();
  appender.join();
  writer.Close();
  CHECK(appended.load() == kRecords);
}

TEST(TestWriterBackpressureSmallChunks, "writer: chunks sealed small (an output's SealAndCount) count toward the bound too") {
  auto sink = std::make_shared<GatedSink>();
  LogWriter::Options options;
  options.max_queued_bytes = 4 * 1024;  // chunks stay far below max_chunk_bytes: only the seals below make them
  LogWriter writer(TestHeader(1), sink, options);
  constexpr uint64_t kRecords = 20'000;
  std::atomic<uint64_t> appended{0};
  std::thread appender([&] {
    for (uint64_t i = 0; i < kRecords; ++i) {
      writer.Append(InputRecord{{0, i * 7}, InputKind::kEntropy, i * 0x9e3779b97f4a7c15ull});
      if (i % 10 == 9) writer.SealAndCount();  // as a replica's engine seals at each console flush
      appended.store(i + 1);
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const uint64_t stalled_at = appended.load();
  CHECK(stalled_at < 2'000);  // ~4 KiB of ~9-byte records, plus the batch the I/O thread holds
  sink->Open();
  appender.join();
  writer.Close();
  CHECK(appended.load() == kRecords);
}

// 10 s of a compute workload at 100 MIPS with a 1 kHz timer: per interrupt, the interrupt
// record and a clock read in the handler.
// Deflated chunks: a payload that compresses is stored deflated, reads back the same, and
// a deflate stream that is damaged (under a good CRC) is bad-payload, never a crash.
TEST(TestCompression, "deflate: a compressible chunk is stored deflated and reads back the same; damaged streams are refused") {
  std::vector<Record> records;
  uint64_t clock = 5'000'000;
  for (uint64_t i = 1; i <= 20'000; ++i) {
    clock += 1 + (i * 7919) % 3;
    records.push_back(InputRecord{{0, i * 10}, InputKind::kClock, clock});
  }
  const std::vector<uint8_t> bytes = WriteLog(TestHeader(1), records, true, 64 * 1024);
  const LogContents log = ReadLog(bytes);
  CHECK(log.complete && log.records.size() == records.size());
  bool same = log.records.size() == records.size();
  for (size_t i = 0; same && i < records.size(); ++i) same = SameRecord(records[i], log.records[i]);
  CHECK(same);
  const double per_read = static_cast<double>(bytes.size()) / static_cast<double>(records.size());
  std::printf("compression: %zu clock reads in %zu bytes = %.3f bytes per read\n", records.size(), bytes.size(), per_read);
  CHECK(per_read < 0.5);

  const auto stored = StorePayload(std::vector<uint8_t>(4096, 7), kDefaultDeflateLevel);
  CHECK(stored.codec == ChunkCodec::kDeflate && stored.bytes.size() < 100);
  CHECK(LoadPayload(stored.codec, stored.bytes, 4096) == std::vector<uint8_t>(4096, 7));
  CHECK(!LoadPayload(stored.codec, stored.bytes, 4095));
  CHECK(!LoadPayload(stored.codec, stored.bytes, 4097));
  auto damaged = stored.bytes;
  damaged.back() ^= 0xFF;
  CHECK(!LoadPayload(stored.codec, damaged, 4096));
  auto longer = stored.bytes;
  longer.push_back(0);  // bytes after the end of the deflate stream
  CHECK(!LoadPayload(stored.codec, longer, 4096));
  const auto random = StorePayload(std::vector<uint8_t>{1, 2, 3}, kDefaultDeflateLevel);
  CHECK(random.codec == ChunkCodec::kStored);  // deflate would not make it smaller
}

// A source that hands out one byte at a time, and a file being written while it is read:
// the reader gives the same records as from the whole file.
TEST(TestStreamingSources, "sources: a trickling source, a file followed while it is written, a follower giving up when the file stops growing") {
  const auto records = OneOfEachKind();
  const std::vector<uint8_t> bytes = WriteLog(TestHeader(2), records, true);
  LogReader trickle(std::make_unique<MemoryChunkSource>(bytes, 1));
  size_t count = 0;
  while (trickle.Next()) ++count;
  CHECK(count == records.size() && trickle.complete() && trickle.bytes_read() == bytes.size());

  const std::string path = (std::filesystem::temp_directory_path() / ("rrkit-follow-" + std::to_string(::getpid()) + ".rrlog")).string();
  std::filesystem::remove(path);
  constexpr uint64_t kRecords = 3000;
  std::thread writer_thread([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // the reader waits for the file to appear
    LogWriter writer(TestHeader(1), std::make_shared<FileChunkSink>(path), {256, std::chrono::milliseconds(5)});
    for (uint64_t i = 0; i < kRecords; ++i) {
      writer.Append(InputRecord{{0, i * 3}, InputKind::kEntropy, i});
      if (i % 500 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    writer.Close();
  });
  LogReader follower(std::make_unique<FollowingFileChunkSource>(path, std::chrono::seconds(10), std::chrono::milliseconds(1)));
  uint64_t followed = 0;
  bool in_order = true;
  while (auto r = follower.Next()) {
    in_order = in_order && std::get<InputRecord>(*r).value == followed;
    ++followed;
  }
  writer_thread.join();
  CHECK(followed == kRecords && in_order && follower.complete());
  // A follower whose file stops growing gives up after its idle timeout: an incomplete log.
  {
    std::FILE* f = std::fopen(path.c_str(), "wb");
    const size_t header_size = kFileHeaderFixedBytes + (bytes[12] | bytes[13] << 8) + 4;
    std::fwrite(bytes.data(), 1, header_size, f);
    std::fclose(f);
  }
  LogReader idle(std::make_unique<FollowingFileChunkSource>(path, std::chrono::milliseconds(50), std::chrono::milliseconds(1)));
  CHECK(!idle.Next() && !idle.complete());
  std::filesystem::remove(path);
}

TEST(TestStreamSource, "sources: a log written to /dev/fd/N of a pipe and read from the other end as it arrives; the writer's close ends it; Cancel wakes a blocked read") {
  int fds[2];
  CHECK(::pipe(fds) == 0);
  constexpr uint64_t kRecords = 2000;
  uint64_t counted_at_seal = 0;
  std::thread writer_thread([&] {
    {
      LogWriter writer(TestHeader(1), std::make_shared<FileChunkSink>("/dev/fd/" + std::to_string(fds[1])),
                       {256, std::chrono::milliseconds(1000)});
      for (uint64_t i = 0; i < kRecords; ++i) {
        writer.Append(InputRecord{{0, i * 3}, InputKind::kEntropy, i});
        if (i == kRecords / 2) counted_at_seal = writer.SealAndCount();
      }
      // No Close(): the log ends incomplete, as when a primary dies.
    }
    ::close(fds[1]);  // the sink held a duplicate; this was the last write end
  });
  LogReader reader(std::make_unique<StreamChunkSource>(fds[0], "a pipe"));
  uint64_t read = 0;
  bool in_order = true;
  while (auto r = reader.Next()) {
    in_order = in_order && std::get<InputRecord>(*r).value == read;
    ++read;
  }
  writer_thread.join();
  CHECK(read == kRecords && in_order && !reader.complete());
  CHECK(counted_at_seal == kRecords / 2 + 1);

  int idle[2];
  CHECK(::pipe(idle) == 0);
  StreamChunkSource blocked(idle[0], "an idle pipe");
  std::thread canceller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    blocked.Cancel();
  });
  uint8_t byte = 0;
  CHECK(blocked.Read({&byte, 1}) == 0);  // returns once cancelled, though the writer is still open
  canceller.join();
  ::close(idle[1]);
}

// Two vCPUs whose records interleave in the log, vCPU 0 reading ahead while vCPU 1 consumes
// slowly: the decoded-but-unconsumed records stay within the lookahead and one chunk.
TEST(TestLookaheadBound, "replaying world: records decoded ahead of a slow vCPU stay within the lookahead and one chunk") {
  constexpr uint64_t kPerVcpu = 4000;
  std::vector<Record> records;
  for (uint64_t i = 1; i <= kPerVcpu; ++i) {
    records.push_back(InputRecord{{0, i * 10}, InputKind::kEntropy, i});
    records.push_back(InputRecord{{1, i * 10}, InputKind::kEntropy, i});
  }
  const std::vector<uint8_t> bytes = WriteLog(TestHeader(2), records, true, 512);
  size_t per_chunk = 0;  // the most records one chunk holds
  LogReader chunks(std::make_unique<MemoryChunkSource>(bytes));
  while (auto chunk = chunks.NextChunk()) per_chunk = std::max(per_chunk, chunk->size());
  ReplayingWorld world(std::make_unique<LogReader>(std::make_unique<MemoryChunkSource>(bytes)), {200});
  std::atomic<size_t> most{0};
  const auto vcpu = [&](uint32_t v, bool slow) {
    for (uint64_t i = 1; i <= kPerVcpu; ++i) {
      if (world.Horizon(v) <= i * 10) world.Advance(v, i * 10);
      CHECK(world.Input({v, i * 10}, InputKind::kEntropy, [] { return 0ull; }) == i);
      size_t seen = world.lookahead();
      size_t prior = most.load();
      while (seen > prior && !most.compare_exchange_weak(prior, seen)) {
      }
      if (slow && i % 100 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  };
  std::thread fast([&] { vcpu(0, false); });
  std::thread slow([&] { vcpu(1, true); });
  fast.join();
  slow.join();
  std::printf("lookahead: at most %zu records decoded ahead (bound %zu + a chunk of <= %zu)\n", most.load(), size_t{200}, per_chunk);
  CHECK(most.load() <= 200 + per_chunk);
}

TEST(TestCompactness, "log size: a compute workload with a 1 kHz timer stays under 0.2 B per 1000 instructions") {
  auto sink = std::make_shared<MemoryChunkSink>();
  constexpr uint64_t kInstructions = 1'000'000'000;
  {
    LogWriter writer(TestHeader(1), sink);
    uint64_t clock = 0;
    for (uint64_t count = 100'000; count <= kInstructions; count += 100'000) {
      writer.Append(InterruptRecord{{0, count}, 7});
      clock += 10'000 + (count % 7);  // 1 ms of 10 MHz mtime, with jitter
      writer.Append(InputRecord{{0, count + 40}, InputKind::kClock, clock});
    }
    writer.Close();
  }
  const double per_thousand = static_cast<double>(sink->bytes().size()) / (kInstructions / 1000.0);
  std::printf("compactness: %zu bytes for 1e9 instructions = %.4f bytes per 1000 instructions\n", sink->bytes().size(),
              per_thousand);
  CHECK(per_thousand < 0.2);
}

TEST(TestBadHeaders, "reader: an empty, foreign, newer, damaged or missing log is a LogError in the header") {
  const std::vector<uint8_t> good = WriteLog(TestHeader(2), OneOfEachKind(), true);
  const auto read = [](std::vector<uint8_t> bytes) { (void)ReadLog(std::move(bytes)); };

  CHECK_LOG_ERROR(read({}), LogErrorCode::kEmpty, LogError::kHeaderChunk);
  CHECK_LOG_ERROR(read({'R', 'R', 'K'}), LogErrorCode::kTruncated, LogError::kHeaderChunk);
  CHECK_LOG_ERROR(read({'E', 'L', 'F', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}), LogErrorCode::kBadMagic,
                  LogError::kHeaderChunk);
  auto wrong_version = good;
  wrong_version[8] = kLogFormatVersion + 1;
  CHECK_LOG_ERROR(read(wrong_version), LogErrorCode::kBadVersion, LogError::kHeaderChunk);
  for (const uint8_t old : {1, 2}) {  // a log from before version 3: refused, saying why
    auto old_version = good;
    old_version[8] = old;
    CHECK_LOG_ERROR(read(old_version), LogErrorCode::kBadVersion, LogError::kHeaderChunk);
    try {
      read(old_version);
    } catch (const LogError& e) {
      CHECK(std::string(e.what()).find("format version " + std::to_string(old) + ", this reader knows 3 (rrkit before") !=
            std::string::npos);
    }
  }
  auto header_flip = good;
  header_flip[20] ^= 0x10;
  CHECK_LOG_ERROR(read(header_flip), LogErrorCode::kBadCrc, LogError::kHeaderChunk);
  CHECK_LOG_ERROR(LogReader::Open("/nonexistent/run.rrlog"), LogErrorCode::kIo, LogError::kHeaderChunk);
}

TEST(TestBadChunks, "reader: damaged, cut, swapped, repeated or trailing chunks name the chunk and the byte") {
  const std::vector<uint8_t> good = WriteLog(TestHeader(2), OneOfEachKind(), true);
  const auto read = [](std::vector<uint8_t> bytes) { (void)ReadLog(std::move(bytes)); };

  // Locate the chunks to damage them precisely.
  const size_t header_size = kFileHeaderFixedBytes + (good[12] | good[13] << 8) + 4;
  std::vector<size_t> chunk_starts;
  for (size_t at = header_size; at + 4 <= good.size() && good[at] == 'C';) {
    chunk_starts.push_back(at);
    at += kChunkHeaderBytes + (good[at + 8] | good[at + 9] << 8 | good[at + 10] << 16);
  }
  CHECK(chunk_starts.size() >= 3);
  if (chunk_starts.size() < 3) return;

  auto payload_flip = good;
  payload_flip[chunk_starts[1] + kChunkHeaderBytes] ^= 0x01;
  CHECK_LOG_ERROR(read(payload_flip), LogErrorCode::kBadCrc, 1);
  try {
    read(payload_flip);
  } catch (const LogError& e) {
    CHECK(e.offset() == chunk_starts[1] + 24);
    CHECK(std::string(e.what()).find("chunk 1 at byte") != std::string::npos);
  }

  CHECK_LOG_ERROR(read({good.begin(), good.begin() + chunk_starts[2] + 7}), LogErrorCode::kTruncated, 2);
  CHECK_LOG_ERROR(read({good.begin(), good.begin() + chunk_starts[2] + 25}), LogErrorCode::kTruncated, 2);
  CHECK_LOG_ERROR(read({good.begin(), good.begin() + chunk_starts[2] + 30}), LogErrorCode::kTruncated, 2);
  CHECK_LOG_ERROR(read({good.begin(), good.end() - 3}), LogErrorCode::kTruncated, LogError::kTrailerChunk);
  // Cut exactly at a chunk boundary: incomplete, not an error.
  const LogContents cut = ReadLog({good.begin(), good.begin() + chunk_starts[2]});
  CHECK(!cut.complete && cut.chunks == 2);

  auto swapped = good;  // chunks 0 and 1 exchanged
  std::vector<uint8_t> c0(good.begin() + chunk_starts[0], good.begin() + chunk_starts[1]);
  std::vector<uint8_t> c1(good.begin() + chunk_starts[1], good.begin() + chunk_starts[2]);
  swapped.erase(swapped.begin() + chunk_starts[0], swapped.begin() + chunk_starts[2]);
  swapped.insert(swapped.begin() + chunk_starts[0], c0.begin(), c0.end());
  swapped.insert(swapped.begin() + chunk_starts[0], c1.begin(), c1.end());
  CHECK_LOG_ERROR(read(swapped), LogErrorCode::kBadSequence, 0);

  auto duplicated = good;
  duplicated.insert(duplicated.begin() + chunk_starts[1], c0.begin(), c0.end());
  CHECK_LOG_ERROR(read(duplicated), LogErrorCode::kBadSequence, 1);

  auto trailing = good;
  trailing.push_back(0);
  CHECK_LOG_ERROR(read(trailing), LogErrorCode::kTrailingData, LogError::kTrailerChunk);

  auto garbage_frame = good;
  garbage_frame[chunk_starts[1]] = 'X';
  CHECK_LOG_ERROR(read(garbage_frame), LogErrorCode::kBadFrame, 1);

  // A chunk whose CRC is right but whose codec or stored bytes are not.
  const auto recrc = [&](std::vector<uint8_t>& bytes, size_t start) {
    const size_t stored = bytes[start + 8] | bytes[start + 9] << 8 | bytes[start + 10] << 16;
    const uint32_t crc = Crc32c({bytes.data() + start + kChunkHeaderBytes, stored}, Crc32c({bytes.data() + start, kChunkHeaderBytes - 4}));
    for (int i = 0; i < 4; ++i) bytes[start + 24 + i] = static_cast<uint8_t>(crc >> (8 * i));
  };
  auto unknown_codec = good;
  unknown_codec[chunk_starts[1] + 20] = 7;
  recrc(unknown_codec, chunk_starts[1]);
  CHECK_LOG_ERROR(read(unknown_codec), LogErrorCode::kBadPayload, 1);
  auto wrong_length = good;  // the payload is shorter than the chunk says
  wrong_length[chunk_starts[1] + 16] += 1;
  recrc(wrong_length, chunk_starts[1]);
  CHECK_LOG_ERROR(read(wrong_length), LogErrorCode::kBadPayload, 1);

  auto trailer_flip = good;
  trailer_flip[good.size() - 10] ^= 0x40;
  CHECK_LOG_ERROR(read(trailer_flip), LogErrorCode::kBadTrailer, LogError::kTrailerChunk);
}

// --- The worlds, driven by a fake engine. ---

// A fake multi-threaded engine: each vCPU retires `steps` instructions, reads the clock and
// entropy now and then, does store-conditionals that occasionally fail, takes interrupts
// (live: at random; replay: where the world schedules them) and folds everything it saw
// into a state hash, which it reports in the final checkpoint.
struct FakeRun {
  std::vector<uint64_t> state;  // per-vCPU state hash
  std::vector<uint64_t> final_counts;
};

uint64_t Mix(uint64_t h, uint64_t v) { return (h ^ v) * 0x100000001B3ull; }

FakeRun RunFakeEngine(World& world, uint32_t vcpus, uint64_t steps, int exit_code, uint64_t seed,
                      uint32_t perturb_vcpu = UINT32_MAX) {
  FakeRun run;
  run.state.assign(vcpus, 0xCBF29CE484222325ull);
  run.final_counts.assign(vcpus, 0);
  std::vector<std::thread> threads;
  std::vector<std::exception_ptr> errors(vcpus);  // a vCPU thread's Divergence, rethrown after join
  for (uint32_t v = 0; v < vcpus; ++v) {
    threads.emplace_back([&, v] {
     try {
      std::mt19937_64 host(seed * 1000 + v);  // "the world": differs between record and replay
      uint64_t h = run.state[v];
      // Live: a fixed length. Replay: up to the recorded final landmark, reading the log as
      // far as each step needs (World::Horizon and Advance, as an engine does).
      uint64_t my_steps = world.DeliversLiveInterrupts() ? steps + v * 13 : kNever;
      for (uint64_t count = 0;; ++count) {
        if (world.Horizon(v) <= count) world.Advance(v, count);
        if (!world.DeliversLiveInterrupts()) {
          const auto final_landmarks = world.FinalLandmarks();
          if (final_landmarks) my_steps = (*final_landmarks)[v];
        }
        if (count >= my_steps) break;
        const Landmark at{v, count};
        if (world.DeliversLiveInterrupts()) {
          if (host() % 400 == 0) {
            world.InterruptTaken(at, 7);
            h = Mix(h, 7);
          }
        } else if (auto next = world.ScheduledInterrupt(v); next && next->count == count) {
          world.InterruptTaken(at, next->cause);
          h = Mix(h, next->cause);
        }
        if (count % 97 == 0) h = Mix(h, world.Input(at, InputKind::kClock, [&] { return host(); }));
        if (count % 331 == 0) {
          const InputKind kind = (v == perturb_vcpu && count == 331 * 3) ? InputKind::kConsoleData : InputKind::kEntropy;
          h = Mix(h, world.Input(at, kind, [&] { return host(); }));
        }
        if (count % 53 == 0) {
          h = Mix(h, world.RareOutcome(at, InputKind::kStoreConditional, 0, [&] { return host() % 5 == 0 ? 1 : 0; }));
        }
        h = Mix(h, count);
      }
      run.state[v] = h;
      run.final_counts[v] = my_steps;
     } catch (...) {
      errors[v] = std::current_exception();
     }
    });
  }
  for (auto& t : threads) t.join();
  for (auto& e : errors) if (e) std::rethrow_exception(e);
  Checkpoint final_state;
  for (uint32_t v = 0; v < vcpus; ++v) final_state.vcpus.push_back({{v, run.final_counts[v]}, run.state[v]});
  for (uint64_t s : run.state) final_state.memory_hash = Mix(final_state.memory_hash, s);
  world.CheckpointTaken(final_state);
  world.MachineStopped({0, run.final_counts[0]}, exit_code, final_state, OutputDigest{7, 0x77});
  return run;
}

template <typename Body>
std::optional<Divergence> CatchDivergence(Body body) {
  try {
    body();
  } catch (const Divergence& d) {
    return d;
  }
  return std::nullopt;
}

// A recording of the fake engine on 3 vCPUs, and what it computed.
struct FakeRecording {
  std::vector<uint8_t> bytes;
  LogContents log;
  FakeRun run;
};

// A replaying world that streams `bytes`.
std::unique_ptr<ReplayingWorld> Replaying(const std::vector<uint8_t>& bytes) {
  return std::make_unique<ReplayingWorld>(std::make_unique<LogReader>(std::make_unique<MemoryChunkSource>(bytes)));
}

FakeRecording RecordFakeEngine() {
  constexpr uint32_t kVcpus = 3;
  auto sink = std::make_shared<MemoryChunkSink>();
  FakeRun recorded;
  {
    LiveWorld live;
    LogWriter writer(TestHeader(kVcpus), sink, {256, std::chrono::milliseconds(2)});
    RecordingWorld recording(live, writer);
    recorded = RunFakeEngine(recording, kVcpus, 20000, 3, /*seed=*/1);
  }
  return {sink->bytes(), ReadLog(sink->bytes()), recorded};
}

TEST(TestRecordingWorld, "recording world: logs every input, rare outcome, interrupt, the checkpoint and the stop") {
  const LogContents log = RecordFakeEngine().log;
  CHECK(log.complete);
  std::map<RecordKind, int> kinds;
  for (const Record& r : log.records) ++kinds[KindOf(r)];
  CHECK(kinds[RecordKind::kInput] > 100 && kinds[RecordKind::kInterrupt] > 10 && kinds[RecordKind::kRareOutcome] > 10);
  CHECK(kinds[RecordKind::kCheckpoint] == 1 && kinds[RecordKind::kMachineStop] == 1);
}

TEST(TestReplayReproduces, "replaying world: another host, the same states, because every value comes from the log") {
  const FakeRecording recording = RecordFakeEngine();
  auto world = Replaying(recording.bytes);
  ReplayingWorld& replaying = *world;
  CHECK(!replaying.FinalLandmarks().has_value());  // nothing read yet: the log streams in
  auto divergence = CatchDivergence([&] {
    const FakeRun replayed = RunFakeEngine(replaying, 3, 0, 3, /*seed=*/2);
    CHECK(replayed.state == recording.run.state);
    CHECK(replayed.final_counts == recording.run.final_counts);
  });
  CHECK(!divergence);
  if (divergence) std::printf("  unexpected: %s\n", DescribeDivergence(*divergence, "instruction").c_str());
  const ReplayReport report = replaying.report();
  CHECK(report.ended && report.complete && report.chunks == recording.log.chunks && report.checkpoints_compared == 1);
  CHECK(report.last_matching_checkpoint.has_value() && !report.damage);
}

TEST(TestReplayOtherDevice, "replaying world: reading another device at a landmark diverges as 'input kind' on that vCPU") {
  auto world = Replaying(RecordFakeEngine().bytes);
  ReplayingWorld& replaying = *world;
  auto divergence = CatchDivergence([&] { RunFakeEngine(replaying, 3, 0, 3, 2, /*perturb_vcpu=*/1); });
  CHECK(divergence && divergence->at.vcpu == 1 && divergence->at.count == 331 * 3 && divergence->what == "input kind");
  CHECK(divergence && divergence->expected == "entropy" && divergence->actual == "console-data");
}

TEST(TestReplayOtherExitCode, "replaying world: another exit code diverges as 'exit code'") {
  auto world = Replaying(RecordFakeEngine().bytes);
  ReplayingWorld& replaying = *world;
  auto divergence = CatchDivergence([&] { RunFakeEngine(replaying, 3, 0, 4, 2); });
  CHECK(divergence && divergence->what == "exit code" && divergence->expected == "3" && divergence->actual == "4");
}

TEST(TestCheckpointComparison, "checkpoints: a difference names the vCPU, the field, expected and actual, in one line") {
  auto world = Replaying(RecordFakeEngine().bytes);
  ReplayingWorld& replaying = *world;
  replaying.Advance(0, kNever - 1);  // read the whole (small) log
  CHECK(replaying.log_ended() && replaying.log_complete());
  auto expected = replaying.ScheduledCheckpoint();
  CHECK(expected.has_value());
  if (expected) {
    Checkpoint taken = *expected;
    taken.vcpus[2].register_hash ^= 1;
    auto divergence = CatchDivergence([&] { replaying.CheckpointTaken(taken); });
    CHECK(divergence && divergence->at.vcpu == 2 && divergence->what == "register hash");
    CHECK(divergence && DescribeDivergence(*divergence, "exit").find("replay diverged at vcpu 2 @ exit ") == 0);
    auto none_left = CatchDivergence([&] { replaying.CheckpointTaken(taken); });
    CHECK(none_left && none_left->what == "checkpoint");
  }
  Checkpoint a = MakeCheckpoint({1, 2}, 1), b = a;
  b.memory_hash ^= 4;
  b.vcpus[0].at.count = 7;
  const auto differences = CompareCheckpoints(a, b);
  CHECK(differences.size() == 2 && differences[0].what == "landmark" && differences[1].what == "memory hash");
}

TEST(TestReplayInputsOutOfOrder, "replaying world: an input at the wrong landmark or vCPU diverges; the live source is never called") {
  auto world = Replaying(RecordFakeEngine().bytes);
  ReplayingWorld& replaying = *world;
  auto wrong_count = CatchDivergence([&] { replaying.Input({0, 1}, InputKind::kClock, [] { return 0ull; }); });
  CHECK(wrong_count && wrong_count->what == "input landmark");
  auto bad_vcpu = CatchDivergence([&] { replaying.Input({9, 0}, InputKind::kClock, [] { return 0ull; }); });
  CHECK(bad_vcpu && bad_vcpu->what == "vcpu");
  bool live_called = false;
  replaying.Input({0, 0}, InputKind::kClock, [&] { live_called = true; return 0ull; });
  CHECK(!live_called);  // replay reads nothing from the world
}

}  // namespace

int main(int argc, char** argv) { return rrkit::testing::RunTests(argc, argv); }
