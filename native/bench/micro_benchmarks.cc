#include "bench/micro_benchmarks.h"

#include <atomic>
#include <chrono>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

#include "crew/crew.h"
#include "crew/page_geometry.h"
#include "crew/permission_table.h"
#include "emu/memory.h"
#include "emu/ram_hash.h"
#include "kvm/guest_memory.h"
#include "kvm/memory_hash.h"
#include "replay/chunk_sink.h"
#include "replay/log_writer.h"

namespace rrkit::bench {
namespace {

using Clock = std::chrono::steady_clock;

uint64_t NsSince(Clock::time_point start) {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start).count());
}

// Results the compiler must not prove unused.
volatile uint64_t g_sink;

// Takes every frame and keeps none: the log's cost without the disk's.
class DiscardSink final : public replay::ChunkSink {
 public:
  void Write(Frame, std::span<const uint8_t>) override {}
  void Flush() override {}
};

// A fixed pseudo-random sequence (xorshift64): data that no hash or codec finds a pattern in.
class Xorshift {
 public:
  uint64_t Next() {
    state_ ^= state_ << 13;
    state_ ^= state_ >> 7;
    state_ ^= state_ << 17;
    return state_;
  }

 private:
  uint64_t state_ = 0x2545'f491'4f6c'dd1dULL;
};

void FillWithData(uint8_t* bytes, uint64_t length) {
  Xorshift random;
  for (uint64_t i = 0; i + 8 <= length; i += 8) {
    const uint64_t word = random.Next() | 1;  // never an all-zero page, which the hashes skip
    std::memcpy(bytes + i, &word, sizeof word);
  }
}

constexpr uint64_t kMiB = uint64_t{1} << 20;

}  // namespace

BatchTiming TimeLogAppends(uint64_t records) {
  replay::LogHeader header;
  header.engine = "emu";
  header.ram_mib = 1;
  replay::LogWriter writer(header, std::make_shared<DiscardSink>());
  // What a clock-reading guest logs: a landmark some hundreds of instructions on, and a
  // clock value some microseconds later, neither quite regular.
  Xorshift random;
  uint64_t count = 0;
  uint64_t clock_ns = 1'000'000'000;
  const Clock::time_point start = Clock::now();
  for (uint64_t i = 0; i < records; ++i) {
    const uint64_t r = random.Next();
    count += 200 + (r & 0x3ff);
    clock_ns += 1000 + ((r >> 16) & 0xfff);
    writer.Append(replay::InputRecord{{0, count}, replay::InputKind::kClock, clock_ns});
  }
  const uint64_t ns = NsSince(start);
  if (writer.SealAndCount() != records) throw std::logic_error("log append bench: the writer lost records");
  writer.Close();
  return {ns, records};
}

BatchTiming TimePermissionChecks(uint64_t checks) {
  constexpr uint64_t kBase = 0x8000'0000;
  constexpr uint64_t kRamBytes = 64 * kMiB;
  const crew::PageGeometry geometry(kBase, kRamBytes);
  crew::PermissionTable table(geometry.page_count());
  for (uint64_t page = 0; page < geometry.page_count(); ++page) table.Set(page, crew::Access::kWrite);
  // Addresses that wander over RAM a page and a word at a time, reads and writes alternating.
  uint64_t offset = 0;
  uint64_t allowed = 0;
  const Clock::time_point start = Clock::now();
  for (uint64_t i = 0; i < checks; ++i) {
    offset = (offset + 4096 + 8) & (kRamBytes - 1);
    allowed += table.Allows(geometry.PageOf(kBase + offset), (i & 1) != 0);
  }
  const uint64_t ns = NsSince(start);
  if (allowed != checks) throw std::logic_error("permission check bench: a check failed on a page held for write");
  g_sink = allowed;
  return {ns, checks};
}

BatchTiming TimeEmuStateHash(uint64_t mib) {
  emu::GuestRam ram(mib * kMiB);
  FillWithData(ram.host(), ram.size());
  const Clock::time_point start = Clock::now();
  g_sink = emu::HashRam(ram);
  return {NsSince(start), mib};
}

BatchTiming TimeKvmStateHash(uint64_t mib) {
  const kvm::GuestMemory memory(std::make_shared<const kvm::MemoryFile>(mib * kMiB));
  FillWithData(memory.host(), memory.size());
  const Clock::time_point start = Clock::now();
  g_sink = kvm::HashGuestMemory(memory);
  return {NsSince(start), mib};
}

BatchTiming TimeOwnershipRoundTrips(uint64_t round_trips) {
  constexpr uint32_t kCrewBit = 1;
  constexpr uint64_t kPage = 0;
  std::atomic<uint32_t> attention[2] = {0, 0};
  std::atomic<uint64_t> transfers{0};
  crew::Crew crew(crew::PageGeometry(0, 2 * 4096), {{&attention[0], kCrewBit}, {&attention[1], kCrewBit}},
                  [&](const crew::TransferEdge&) { transfers.fetch_add(1, std::memory_order_relaxed); });
  const uint64_t wanted = 2 * round_trips;
  std::atomic<bool> go{false};
  // A vCPU that writes the page at every instruction and polls at every one: as soon as the
  // other asks for the page it gives it up, and at its next instruction asks for it back.
  auto vcpu = [&](uint32_t me) {
    while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
    uint64_t count = 0;
    while (transfers.load(std::memory_order_relaxed) < wanted) {
      if (!crew.Permissions(me).Allows(kPage, true) && !crew.Acquire(me, kPage, true, count)) break;
      ++count;
      if (attention[me].load(std::memory_order_acquire) & kCrewBit) crew.Poll(me, count);
    }
    crew.Park(me, count);  // done: the other takes the page without this one's help
  };
  std::thread first(vcpu, 0);
  std::thread second(vcpu, 1);
  const Clock::time_point start = Clock::now();
  go.store(true, std::memory_order_release);
  first.join();
  second.join();
  const uint64_t ns = NsSince(start);
  const uint64_t done = transfers.load();
  if (done < wanted) throw std::logic_error("ownership bench: " + std::to_string(done) + " transfers, wanted " + std::to_string(wanted));
  return {ns, done / 2};
}

}  // namespace rrkit::bench
