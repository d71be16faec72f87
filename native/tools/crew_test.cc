// Stand-alone tests of CREW (native/crew/) with fake vCPUs: real threads that "execute
// instructions" (count++) on a shared array through the permission tables, polling at
// block boundaries as the emu engine does. Records racy interleavings, replays them with
// the ReplayGate and checks that every replay matches its recording exactly.
//
//   crew_test            run the tests; prints "PASS/FAIL NAME" each, then "N passed, M failed"
//   crew_test --list     the tests' names; crew_test --run NAME runs one (test_harness.h)
//   crew_test --bench    all the tests, then measure the fast-path check and a transfer
//
// Built by native/tools/crew_test.mk (also under ThreadSanitizer).
#include <algorithm>
#include <atomic>
#include <barrier>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <future>
#include <latch>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "crew/crew.h"
#include "crew/edge_validation.h"
#include "crew/ownership_table.h"
#include "crew/page_geometry.h"
#include "crew/replay_gate.h"
#include "crew/serializer.h"
#include "crew/transfer_stats.h"
#include "crew/turn_follower.h"
#include "machine/vcpu_scheduler.h"
#include "tools/test_harness.h"

namespace rrkit::crew {
namespace {

// ---------------------------------------------------------------- test harness

// Runs `body` on its own thread; a test that does not finish in time is a deadlock, and
// the whole program stops with a message rather than hanging its caller.
void WithinSeconds(int seconds, const char* what, const std::function<void()>& body) {
  std::packaged_task<void()> task(body);
  auto done = task.get_future();
  std::thread runner(std::move(task));
  if (done.wait_for(std::chrono::seconds(seconds)) != std::future_status::ready) {
    std::fprintf(stderr, "DEADLOCK: %s did not finish within %d s\n", what, seconds);
    std::fflush(stderr);
    std::_Exit(2);
  }
  runner.join();
  done.get();
}

constexpr uint32_t kCrewBit = 1u << 3;  // the engine picks which attention bit is CREW's
constexpr uint64_t kBase = 0x8000'0000;
constexpr uint64_t kBlock = 8;  // instructions per block: where vCPUs poll and publish

uint64_t Mix(uint64_t x) {  // SplitMix64's finaliser
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// ---------------------------------------------------------------- the fake guest

// The guest program: instruction i of vCPU v, the same in record and replay. Half the
// accesses go to a small hot region shared by everyone, the rest to a region per vCPU
// that its neighbour also touches.
struct Instruction {
  enum Op { kLoad, kIncrement, kAtomicAdd, kMove } op;
  uint32_t slot;
  uint32_t target;  // kMove: copies slot to target, two pages in one instruction
  bool writes() const { return op != kLoad && op != kMove; }
};

constexpr uint32_t kHotSlots = 16;
constexpr uint32_t kRegionSlots = 64;

uint32_t SlotCount(uint32_t vcpus) { return kHotSlots + kRegionSlots * vcpus; }

Instruction Decode(uint32_t vcpu, uint64_t i, uint32_t vcpus) {
  const uint64_t r = Mix((uint64_t{vcpu} << 40) ^ i);
  const uint32_t region = (r >> 8) & 1 ? vcpu : (vcpu + 1) % vcpus;
  const uint32_t slot = (r & 1) ? static_cast<uint32_t>((r >> 16) % kHotSlots)
                                : kHotSlots + region * kRegionSlots + static_cast<uint32_t>((r >> 16) % kRegionSlots);
  const uint32_t kind = (r >> 32) % 20;
  const auto op = kind < 8 ? Instruction::kLoad
                  : kind < 16 ? Instruction::kIncrement
                  : kind < 18 ? Instruction::kAtomicAdd
                              : Instruction::kMove;
  return Instruction{op, slot, static_cast<uint32_t>((r >> 40) % SlotCount(vcpus))};
}

// Guest memory: racy by design, so relaxed atomics (the races are the point; CREW orders them).
struct GuestMemory {
  explicit GuestMemory(uint32_t slots) : size(slots), words(new std::atomic<uint64_t>[slots]) {
    for (uint32_t s = 0; s < slots; ++s) words[s].store(s, std::memory_order_relaxed);
  }
  uint32_t size;
  std::unique_ptr<std::atomic<uint64_t>[]> words;

  // Executes one instruction; what it read goes to `observed`.
  void Execute(const Instruction& in, std::vector<uint64_t>& observed) {
    std::atomic<uint64_t>& w = words[in.slot];
    switch (in.op) {
      case Instruction::kLoad:
        observed.push_back(w.load(std::memory_order_relaxed));
        break;
      case Instruction::kIncrement: {  // load, add, store: loses updates unless ordered
        uint64_t v = w.load(std::memory_order_relaxed);
        observed.push_back(v);
        w.store(v * 3 + 1, std::memory_order_relaxed);
        break;
      }
      case Instruction::kAtomicAdd:
        observed.push_back(w.fetch_add(7, std::memory_order_relaxed));
        break;
      case Instruction::kMove: {
        uint64_t v = w.load(std::memory_order_relaxed);
        observed.push_back(v);
        words[in.target].store(v + 1, std::memory_order_relaxed);
        break;
      }
    }
  }

  std::vector<uint64_t> Snapshot() const {
    std::vector<uint64_t> out(size);
    for (uint32_t s = 0; s < size; ++s) out[s] = words[s].load(std::memory_order_relaxed);
    return out;
  }
};

uint64_t AddressOf(uint32_t slot) { return kBase + uint64_t{slot} * 8; }

struct Run {
  std::vector<std::vector<uint64_t>> observed;  // per vCPU, in program order
  std::vector<uint64_t> final_memory;
  bool operator==(const Run&) const = default;
};

struct Recording {
  Run run;
  std::vector<TransferEdge> edges;
  std::vector<uint64_t> final_counts;
  uint64_t granularity;
};

// ---------------------------------------------------------------- record

// A page the instruction touches and `table` does not allow it yet (the access it needs),
// or nothing: every page allowed. Asked again after each grant, since a page granted
// before may have been taken while the vCPU waited for the next.
std::optional<std::pair<uint64_t, bool>> LackingPage(const PermissionTable& table, const PageGeometry& geometry,
                                                     const Instruction& in) {
  const uint64_t page = geometry.PageOf(AddressOf(in.slot));
  if (!table.Allows(page, in.writes())) return std::pair{page, in.writes()};
  const uint64_t target = geometry.PageOf(AddressOf(in.target));
  if (in.op == Instruction::kMove && !table.Allows(target, true)) return std::pair{target, true};
  return std::nullopt;
}


// One recording vCPU: the engine's run loop, reduced to what CREW sees.
void RecordVcpu(Crew& crew, GuestMemory& memory, std::atomic<uint32_t>& attention, uint32_t vcpu, uint32_t vcpus,
                uint64_t instructions, uint64_t jitter_seed, uint32_t along, std::vector<uint64_t>& observed) {
  const PermissionTable& table = crew.Permissions(vcpu);
  const PageGeometry& geometry = crew.geometry();
  uint64_t count = 0;
  uint64_t jitter = jitter_seed;
  while (count < instructions) {
    if (attention.load(std::memory_order_acquire) & kCrewBit) crew.Poll(vcpu, count);
    const uint64_t block_end = std::min(count + kBlock, instructions);
    for (; count < block_end; ++count) {
      const Instruction in = Decode(vcpu, count, vcpus);
      while (const auto lacking = LackingPage(table, geometry, in)) crew.Acquire(vcpu, lacking->first, lacking->second, count, along);
      memory.Execute(in, observed);
    }
    // Timing noise, so that recordings differ: the host scheduler, and now and then an
    // idle wait (a wfi) during which the vCPU is parked.
    jitter = Mix(jitter);
    if (jitter % 97 == 0) std::this_thread::yield();
    if (jitter % 1009 == 0) {
      Crew::Parked idle(crew, vcpu, count);
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
  }
  crew.Park(vcpu, count);  // main returned: parked for good, its pages still transferable
}

Recording Record(uint32_t vcpus, uint64_t granularity, uint64_t instructions, uint64_t seed, uint32_t along = 0) {
  Recording rec;
  rec.granularity = granularity;
  GuestMemory memory(SlotCount(vcpus));
  std::vector<std::atomic<uint32_t>> attention(vcpus);
  std::vector<VcpuHooks> hooks;
  for (auto& a : attention) hooks.push_back(VcpuHooks{&a, kCrewBit});
  Crew crew(PageGeometry(kBase, uint64_t{memory.size} * 8, granularity), hooks,
            [&](const TransferEdge& e) { rec.edges.push_back(e); });
  rec.run.observed.resize(vcpus);
  std::latch start(vcpus);
  std::vector<std::thread> threads;
  for (uint32_t v = 0; v < vcpus; ++v) {
    threads.emplace_back([&, v] {
      start.arrive_and_wait();
      RecordVcpu(crew, memory, attention[v], v, vcpus, instructions, Mix(seed * 131 + v), along, rec.run.observed[v]);
    });
  }
  for (auto& t : threads) t.join();
  crew.Stop();
  rec.run.final_memory = memory.Snapshot();
  rec.final_counts.assign(vcpus, instructions);
  return rec;
}

// ---------------------------------------------------------------- record, M:N

// The same guest recorded as the emu engine runs it M:N (machine/vcpu_scheduler.h): `threads`
// pool threads run the vCPUs in slices; a vCPU that lacks a page asks with Request and, if it
// must wait, gives its thread up, stopped where it faulted; one whose slice is over parks at
// its block boundary, so that its pages can be taken while it is off its thread.
class SlicedRecording {
 public:
  SlicedRecording(uint32_t vcpus, uint32_t threads, uint64_t granularity, uint64_t instructions, uint64_t seed)
      : vcpus_(vcpus), instructions_(instructions), memory_(SlotCount(vcpus)), attention_(vcpus), states_(vcpus),
        scheduler_(vcpus, threads) {
    std::vector<VcpuHooks> hooks;
    for (uint32_t v = 0; v < vcpus; ++v) {
      VcpuHooks h{&attention_[v], kCrewBit};
      h.granted = [this, v] { scheduler_.Wake(v, true); };
      hooks.push_back(std::move(h));
      states_[v].jitter = Mix(seed * 131 + v);
    }
    crew_ = std::make_unique<Crew>(PageGeometry(kBase, uint64_t{memory_.size} * 8, granularity), std::move(hooks),
                                   [this](const TransferEdge& e) { recording_.edges.push_back(e); });
    recording_.granularity = granularity;
    recording_.run.observed.resize(vcpus);
  }

  Recording Run() {
    scheduler_.Start({.run_slice = [this](uint32_t v) { return Slice(v); },
                      .all_blocked = [this] { stuck_ = true; scheduler_.Stop(); }});
    scheduler_.Join();
    crew_->Stop();
    CHECK(!stuck_);  // every vCPU waiting and none on a thread: a deadlock
    recording_.run.final_memory = memory_.Snapshot();
    recording_.final_counts.assign(vcpus_, instructions_);
    return std::move(recording_);
  }

 private:
  struct VcpuState {
    uint64_t count = 0;
    uint64_t jitter = 0;
    bool waiting = false;  // its Request said kPending
    bool parked = false;   // off its thread at a block boundary
  };
  using SliceEnd = machine::VcpuScheduler::SliceEnd;
  static constexpr uint64_t kSliceInstructions = 64;

  SliceEnd Slice(uint32_t v) {
    VcpuState& st = states_[v];
    if (st.waiting) {
      switch (crew_->Resume(v)) {
        case Grant::kPending: return SliceEnd::kBlocked;
        case Grant::kStopped: return SliceEnd::kDone;
        case Grant::kGranted: st.waiting = false; break;
      }
    }
    if (st.parked) {
      crew_->Unpark(v);
      st.parked = false;
    }
    const PermissionTable& table = crew_->Permissions(v);
    const PageGeometry& geometry = crew_->geometry();
    for (;;) {
      const uint64_t slice_end = std::min(st.count + kSliceInstructions, instructions_);
      while (st.count < slice_end) {
        if (attention_[v].load(std::memory_order_acquire) & kCrewBit) crew_->Poll(v, st.count);
        const uint64_t block_end = std::min(st.count + kBlock, instructions_);
        for (; st.count < block_end; ++st.count) {
          const Instruction in = Decode(v, st.count, vcpus_);
          while (const auto lacking = LackingPage(table, geometry, in)) {
            switch (crew_->Request(v, lacking->first, lacking->second, st.count)) {
              case Grant::kGranted: break;
              case Grant::kStopped: return SliceEnd::kDone;
              case Grant::kPending: st.waiting = true; return SliceEnd::kBlocked;
            }
          }
          memory_.Execute(in, recording_.run.observed[v]);
        }
        // Timing noise, as in RecordVcpu: the host scheduler, and now and then an idle wait.
        st.jitter = Mix(st.jitter);
        if (st.jitter % 97 == 0) std::this_thread::yield();
        if (st.jitter % 1009 == 0) {
          Crew::Parked idle(*crew_, v, st.count);
          std::this_thread::sleep_for(std::chrono::microseconds(50));
        }
      }
      if (st.count >= instructions_) {
        crew_->Park(v, st.count);  // main returned: parked for good, its pages still transferable
        return SliceEnd::kDone;
      }
      // Slices of varying length, as the host's timing makes them: run on while nobody
      // waits for the thread, now and then yield anyway.
      st.jitter = Mix(st.jitter);
      if (st.jitter % 5 == 0 || scheduler_.OthersWaiting()) break;
    }
    crew_->Park(v, st.count);
    st.parked = true;
    return SliceEnd::kYield;
  }

  const uint32_t vcpus_;
  const uint64_t instructions_;
  GuestMemory memory_;
  std::vector<std::atomic<uint32_t>> attention_;
  std::vector<VcpuState> states_;
  machine::VcpuScheduler scheduler_;
  std::unique_ptr<Crew> crew_;
  Recording recording_;
  std::atomic<bool> stuck_{false};
};

// ---------------------------------------------------------------- replay

// One replaying vCPU: no permission checks; blocks are clipped at the gate's next count.
void ReplayVcpu(ReplayGate& gate, GuestMemory& memory, uint32_t vcpu, uint32_t vcpus, uint64_t instructions,
                uint64_t jitter_seed, std::vector<uint64_t>& observed) {
  uint64_t count = 0;
  uint64_t jitter = jitter_seed;
  while (count < instructions) {
    gate.Publish(vcpu, count);
    if (gate.NextWaitCount(vcpu) == count) gate.WaitAt(vcpu, count);
    const uint64_t stop = std::min({count + kBlock, instructions, gate.NextWaitCount(vcpu)});
    for (; count < stop; ++count) memory.Execute(Decode(vcpu, count, vcpus), observed);
    jitter = Mix(jitter);
    if (jitter % 61 == 0) std::this_thread::yield();
  }
  gate.Finish(vcpu, count);
}

// Replays `rec`; `instructions_of` lets a test cut a vCPU short. Rethrows the first failure.
Run Replay(const Recording& rec, uint64_t seed, ReplayGate::Options options = {},
           std::vector<uint64_t> instructions_of = {}) {
  const uint32_t vcpus = static_cast<uint32_t>(rec.run.observed.size());
  if (instructions_of.empty()) instructions_of = rec.final_counts;
  ReplayGate gate(vcpus, rec.edges, rec.final_counts, options);
  GuestMemory memory(SlotCount(vcpus));
  Run run;
  run.observed.resize(vcpus);
  std::vector<std::exception_ptr> errors(vcpus);
  std::vector<std::thread> threads;
  for (uint32_t v = 0; v < vcpus; ++v) {
    threads.emplace_back([&, v] {
      try {
        ReplayVcpu(gate, memory, v, vcpus, instructions_of[v], Mix(seed * 977 + v), run.observed[v]);
      } catch (...) {
        errors[v] = std::current_exception();
        gate.Finish(v, gate.Published(v));  // stop publishing: let the others see it
      }
    });
  }
  for (auto& t : threads) t.join();
  for (auto& e : errors) {
    if (e) std::rethrow_exception(e);
  }
  run.final_memory = memory.Snapshot();
  return run;
}

// ---------------------------------------------------------------- tests

void TestGeometry() {
  PageGeometry g(kBase, 1 << 20);
  CHECK(g.granularity() == 4096);
  CHECK(g.page_count() == 256);
  CHECK(g.PageOf(kBase + 4096 * 3 + 17) == 3);
  CHECK(g.Contains(kBase) && !g.Contains(kBase - 1) && !g.Contains(kBase + (1 << 20)));
  CHECK(PageGeometry(kBase, 1 << 20, 64).page_count() == (1 << 14));
  for (uint64_t bad : {0ull, 32ull, 100ull, 4ull << 20}) {
    bool threw = false;
    try {
      PageGeometry(kBase, 1 << 20, bad);
    } catch (const std::invalid_argument&) {
      threw = true;
    }
    CHECK(threw);
  }
}

void TestPermissionTable() {
  PermissionTable t(4);
  CHECK(!t.Allows(1, false) && !t.Allows(1, true));
  t.Set(1, Access::kRead);
  CHECK(t.Allows(1, false) && !t.Allows(1, true));
  t.Set(1, Access::kWrite);
  CHECK(t.Allows(1, false) && t.Allows(1, true));
}

// The edges the bookkeeping produces for the textbook cases, single-threaded.
void TestOwnershipEdges() {
  OwnershipTable o;
  auto is = [](const std::vector<Landmark>& edges, std::vector<std::pair<uint32_t, uint64_t>> want) {
    std::vector<std::pair<uint32_t, uint64_t>> got;
    for (const Landmark& l : edges) got.push_back({l.vcpu, l.count});
    std::sort(got.begin(), got.end());
    std::sort(want.begin(), want.end());
    return got == want;
  };
  CHECK(o.Grant(7, 0, Access::kWrite, 10).empty());  // first touch: no edge
  CHECK(o.Conflicts(7, 1, Access::kRead) == std::vector<uint32_t>{0});

  o.Yield(7, 0, Access::kRead, 20);  // a read downgrades the writer to reader
  CHECK(is(o.Grant(7, 1, Access::kRead, 5), {{0, 20}}));
  CHECK(o.HolderAccess(7, 0) == Access::kRead);
  CHECK(is(o.Grant(7, 2, Access::kRead, 8), {{0, 20}}));  // a later reader still follows the write

  // A write revokes every reader: one edge per reader.
  CHECK(o.Conflicts(7, 3, Access::kWrite).size() == 3);
  o.Yield(7, 0, Access::kNone, 30);
  o.Yield(7, 1, Access::kNone, 40);
  o.Yield(7, 2, Access::kNone, 50);
  CHECK(is(o.Grant(7, 3, Access::kWrite, 1), {{0, 30}, {1, 40}, {2, 50}}));
  CHECK(o.Conflicts(7, 0, Access::kRead) == std::vector<uint32_t>{3});

  // A holder that yields at the count it gained its rights never used them: the order it
  // received is forwarded with its own edge (0 @ 30 is the new holder itself: dropped).
  o.Yield(7, 3, Access::kNone, 1);
  CHECK(is(o.Grant(7, 0, Access::kWrite, 60), {{3, 1}, {1, 40}, {2, 50}}));

  // A yield belongs to the page: two writers wait on two readers; whichever is granted
  // first follows both readers, the second follows the first.
  OwnershipTable t;
  t.Grant(1, 0, Access::kRead, 1);
  t.Grant(1, 1, Access::kRead, 1);
  t.Yield(1, 0, Access::kNone, 5);  // yielded while vCPU 2 asked
  t.Yield(1, 1, Access::kNone, 6);  // yielded while vCPU 3 asked
  CHECK(is(t.Grant(1, 3, Access::kWrite, 9), {{0, 5}, {1, 6}}));
  CHECK(t.Conflicts(1, 2, Access::kWrite) == std::vector<uint32_t>{3});
}

// Pages shared within a serialized group (docs/crew.md, "Pages shared within a group"):
// writers that did not follow each other each leave a landmark when they yield, until the
// next exclusive write.
void TestOwnershipSharedWriters() {
  OwnershipTable o;
  CHECK(o.Grant(4, 0, Access::kWrite, 10).empty());
  CHECK(o.Grant(4, 1, Access::kWrite, 5, /*shared=*/true).empty());  // vCPU 0 keeps its right
  CHECK(o.HolderAccess(4, 0) == Access::kWrite && o.HolderAccess(4, 1) == Access::kWrite);
  CHECK(o.Conflicts(4, 2, Access::kRead).size() == 2);
  o.Yield(4, 1, Access::kRead, 7);
  o.Yield(4, 0, Access::kRead, 13);
  const std::vector<Landmark> both = o.Grant(4, 2, Access::kRead, 100);
  CHECK(both.size() == 2 && both[0].vcpu == 0 && both[0].count == 13 && both[1].vcpu == 1 && both[1].count == 7);
  // An exclusive write: its holder follows everyone; its yield alone stands for them again.
  o.Yield(4, 0, Access::kNone, 14);
  o.Yield(4, 2, Access::kNone, 101);
  CHECK(o.Grant(4, 1, Access::kWrite, 8).size() == 2);
  o.Yield(4, 1, Access::kRead, 9);
  const std::vector<Landmark> one = o.Grant(4, 0, Access::kRead, 15);
  CHECK(one.size() == 1 && one[0].vcpu == 1 && one[0].count == 9);
}

void TestStats() {
  TransferStats s;
  s.Add({1, 0, 5, 1, 6});
  s.Add({1, 1, 9, 0, 9});
  s.Add({2, 0, 7, 1, 8});
  s.Add({1, 0, 12, 1, 11});
  CHECK(s.total() == 4);
  CHECK(s.ForPage(1) == 3 && s.ForPage(2) == 1 && s.ForPage(3) == 0);
  CHECK(s.ForPair(0, 1) == 3 && s.ForPair(1, 0) == 1);
  auto hot = s.Hottest(1);
  CHECK(hot.size() == 1 && hot[0].page == 1 && hot[0].transfers == 3);
  CHECK(s.Hottest(10).size() == 2);
}

bool Different(const std::vector<Recording>& recs) {
  for (size_t i = 1; i < recs.size(); ++i) {
    if (!(recs[i].run == recs[0].run)) return true;
  }
  return false;
}

void TestRecordReplay(uint32_t vcpus, uint64_t granularity, uint64_t instructions, uint32_t along = 0) {
  std::vector<Recording> recs;
  uint64_t total_edges = 0;
  for (uint64_t seed = 1; seed <= 3; ++seed) {
    recs.push_back(Record(vcpus, granularity, instructions, seed * 7919 + vcpus, along));
    const Recording& rec = recs.back();
    total_edges += rec.edges.size();
    CHECK(!rec.edges.empty());
    for (uint64_t replay_seed = 1; replay_seed <= 2; ++replay_seed) {
      Run replayed = Replay(rec, replay_seed);
      CHECK(replayed.final_memory == rec.run.final_memory);
      CHECK(replayed.observed == rec.run.observed);
      if (!(replayed == rec.run)) {
        for (uint32_t v = 0; v < vcpus; ++v) {
          const auto& a = rec.run.observed[v];
          const auto& b = replayed.observed[v];
          auto mismatch = std::mismatch(a.begin(), a.end(), b.begin(), b.end());
          if (mismatch.first != a.end()) {
            std::fprintf(stderr, "  vcpu %u first differs at observation %zu\n", v,
                         static_cast<size_t>(mismatch.first - a.begin()));
          }
        }
      }
    }
  }
  CHECK(Different(recs));  // the interleaving really is racy
  TransferStats stats;
  for (const auto& e : recs[0].edges) stats.Add(e);
  auto hot = stats.Hottest(1);
  std::printf("  %u vCPUs, %4llu B pages: %llu transfers over 3 recordings (%.0f per million instructions), "
              "hottest page %llu (%llu)\n",
              vcpus, static_cast<unsigned long long>(granularity), static_cast<unsigned long long>(total_edges),
              1e6 * static_cast<double>(total_edges) / static_cast<double>(3 * vcpus * instructions),
              static_cast<unsigned long long>(hot.empty() ? 0 : hot[0].page),
              static_cast<unsigned long long>(hot.empty() ? 0 : hot[0].transfers));
}

// Recorded M:N — on 1 and 2 pool threads, vCPUs waiting for pages off their threads, those
// whose slice ended parked — and replayed one thread per vCPU: exact, and no deadlock (the
// scheduler reports every vCPU waiting with none on a thread as a failure).
void TestRecordReplayManyToFew(uint32_t vcpus, uint32_t threads, uint64_t instructions) {
  std::vector<Recording> recs;
  for (uint64_t seed = 1; seed <= 3; ++seed) {
    recs.push_back(SlicedRecording(vcpus, threads, 4096, instructions, seed * 104729 + vcpus * 8 + threads).Run());
    const Recording& rec = recs.back();
    CHECK(!rec.edges.empty());
    ValidateEdges(vcpus, rec.edges, std::nullopt);
    Run replayed = Replay(rec, seed);
    CHECK(replayed.observed == rec.run.observed);
    CHECK(replayed.final_memory == rec.run.final_memory);
  }
  if (threads > 1) CHECK(Different(recs));  // on two threads the interleaving is racy
}

// Two vCPUs each own a page and fault on the other's at the same moment, many times.
void TestCrossFaultNoDeadlock() {
  constexpr int kRounds = 2000;
  std::vector<std::atomic<uint32_t>> attention(2);
  std::vector<TransferEdge> edges;
  Crew crew(PageGeometry(kBase, 2 * 4096), {{&attention[0], kCrewBit}, {&attention[1], kCrewBit}},
            [&](const TransferEdge& e) { edges.push_back(e); });
  std::barrier sync(2);
  auto vcpu = [&](uint32_t me) {
    const uint64_t mine = me, theirs = 1 - me;
    uint64_t count = 0;
    for (int round = 0; round < kRounds; ++round) {
      if (!crew.Permissions(me).Allows(mine, true)) crew.Acquire(me, mine, true, count);
      ++count;
      {
        Crew::Parked at_barrier(crew, me, count);  // a vCPU blocked on the host is parked
        sync.arrive_and_wait();  // both hold their own page; now fault on each other's
      }
      if (attention[me].load(std::memory_order_acquire) & kCrewBit) crew.Poll(me, count);
      if (!crew.Permissions(me).Allows(theirs, true)) crew.Acquire(me, theirs, true, count);
      ++count;
      {
        Crew::Parked at_barrier(crew, me, count);
        sync.arrive_and_wait();
      }
      if (attention[me].load(std::memory_order_acquire) & kCrewBit) crew.Poll(me, count);
    }
    crew.Park(me, count);
  };
  WithinSeconds(60, "cross fault", [&] {
    std::thread a(vcpu, 0), b(vcpu, 1);
    a.join();
    b.join();
  });
  CHECK(edges.size() >= 2 * kRounds);
  ValidateEdges(2, edges, std::nullopt);  // and the record is replayable
}

// Two vCPUs fault on each other's pages while both keep running: a waiting vCPU serves
// the request aimed at it before it sleeps.
void TestCrossFaultWhileRunning() {
  std::vector<std::atomic<uint32_t>> attention(2);
  Crew crew(PageGeometry(kBase, 2 * 4096), {{&attention[0], kCrewBit}, {&attention[1], kCrewBit}}, [](const TransferEdge&) {});
  std::latch start(2);
  std::atomic<uint64_t> done{0};
  auto vcpu = [&](uint32_t me) {
    uint64_t count = 0;
    crew.Acquire(me, me, true, count++);
    start.arrive_and_wait();
    for (int i = 0; i < 20000; ++i, ++count) {
      const uint64_t page = (i + me) % 2;  // alternate, out of phase: constant conflicts
      if (attention[me].load(std::memory_order_acquire) & kCrewBit) crew.Poll(me, count);
      if (!crew.Permissions(me).Allows(page, true)) crew.Acquire(me, page, true, count);
    }
    done.fetch_add(1);
    crew.Park(me, count);
  };
  WithinSeconds(60, "cross fault while running", [&] {
    std::thread a(vcpu, 0), b(vcpu, 1);
    a.join();
    b.join();
  });
  CHECK(done.load() == 2);
}

// A holder in an idle wait (wfi) never polls; its page is taken from it where it parked.
void TestIdleHolderYields() {
  std::vector<std::atomic<uint32_t>> attention(2);
  std::vector<TransferEdge> edges;
  Crew crew(PageGeometry(kBase, 4 * 4096), {{&attention[0], kCrewBit}, {&attention[1], kCrewBit}},
            [&](const TransferEdge& e) { edges.push_back(e); });
  std::atomic<bool> taken{false};
  WithinSeconds(20, "idle holder", [&] {
    std::thread holder([&] {
      crew.Acquire(1, 2, true, 41);  // writes page 2 at instruction 41
      Crew::Parked wfi(crew, 1, 42);
      while (!taken.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    });
    while (crew.Permissions(1).Get(2) != Access::kWrite) std::this_thread::yield();
    CHECK(crew.Acquire(0, 2, false, 100));
    taken = true;
    holder.join();
  });
  CHECK(edges.size() == 1);
  CHECK(edges[0] == (TransferEdge{2, 1, 42, 0, 100}));
  CHECK(crew.Permissions(1).Get(2) == Access::kRead);  // a read downgrades the owner

  // Stop releases a vCPU that waits on a holder that will never reach a boundary.
  crew.Acquire(1, 3, true, 50);  // vCPU 1 "runs" and never polls from here on
  bool acquired = true;
  WithinSeconds(20, "stop", [&] {
    std::thread waiter([&] { acquired = crew.Acquire(0, 3, true, 200); });
    while (!(attention[1].load() & kCrewBit)) std::this_thread::yield();
    crew.Stop();
    waiter.join();
  });
  CHECK(!acquired);
}

// Acquire's `along`: the pages after the requested one come with it when that needs no
// wait, each like the requested page was (never touched, or touched), with the edges a
// request of its own would have had, at the landmark of the stop.
void TestGrantsAlong() {
  std::vector<std::atomic<uint32_t>> attention(3);
  std::vector<TransferEdge> edges;
  std::vector<AlongGrant> along;
  Crew crew(PageGeometry(kBase, 16 * 4096), {{&attention[0], kCrewBit}, {&attention[1], kCrewBit}, {&attention[2], kCrewBit}},
            [&](const TransferEdge& e) { edges.push_back(e); }, 0, [&](const AlongGrant& g) { along.push_back(g); });
  CHECK(crew.Acquire(2, 5, false, 1));  // vCPU 2 reads page 5 first
  // A first touch of page 2 takes 3 and 4 along (untouched), and stops before 5 (touched).
  CHECK(crew.Acquire(0, 2, true, 10, 8));
  CHECK(crew.Permissions(0).Get(3) == Access::kWrite && crew.Permissions(0).Get(4) == Access::kWrite);
  CHECK(crew.Permissions(0).Get(5) == Access::kNone);
  CHECK(along.size() == 2 && along[0].page == 3 && along[1].page == 4 && along[1].count == 10 && along[1].write &&
        along[1].edges == 0);
  CHECK(edges.empty());
  // vCPU 0 parks at 20 (a spin-wait, a halt): vCPU 1's read of page 2 takes 3 and 4 along,
  // each with an edge from where vCPU 0 stopped (0 keeps read), and 5, which vCPU 2 only
  // reads (no edge), and stops before 6 (untouched).
  crew.Park(0, 20);
  CHECK(crew.Acquire(1, 2, false, 30, 8));
  CHECK(crew.Permissions(1).Get(3) == Access::kRead && crew.Permissions(1).Get(4) == Access::kRead);
  CHECK(crew.Permissions(0).Get(3) == Access::kRead);
  CHECK(along.size() == 5 && along[3].page == 4 && !along[3].write && along[3].edges == 1);
  CHECK(along[4].page == 5 && along[4].edges == 0 && crew.Permissions(2).Get(5) == Access::kRead);
  CHECK(crew.Permissions(1).Get(6) == Access::kNone);
  CHECK(edges.size() == 3 && edges[2] == (TransferEdge{4, 0, 20, 1, 30}));
  crew.Unpark(0);
  // A running holder is not asked for pages along: vCPU 0 (running again) writes 6 and 7;
  // vCPU 2, stopped for 6, gets it at 0's next Poll, and nothing along from a running holder.
  CHECK(crew.Acquire(0, 6, true, 40));
  CHECK(crew.Acquire(0, 7, true, 41));
  const size_t before = along.size();
  WithinSeconds(20, "along from a running holder", [&] {
    std::thread requester([&] { CHECK(crew.Acquire(2, 6, true, 50, 8)); });
    while (!(attention[0].load() & kCrewBit)) std::this_thread::yield();
    crew.Poll(0, 45);  // at its landmark 45 it yields 6 and, stopped there, 7 along
    requester.join();
  });
  CHECK(crew.Permissions(2).Get(6) == Access::kWrite && crew.Permissions(2).Get(7) == Access::kWrite);
  CHECK(crew.Permissions(0).Get(7) == Access::kNone);
  CHECK(along.size() == before + 1 && along.back().page == 7 && along.back().edges == 1);
  CHECK(edges.back() == (TransferEdge{7, 0, 45, 2, 50}));
  // Without `along`, nothing comes along.
  CHECK(crew.Acquire(1, 10, true, 60));
  CHECK(crew.Permissions(1).Get(11) == Access::kNone);
}

// The hold: a running holder's Poll defers a request for a page it gained less than `hold`
// instructions ago and says when to poll again; a page gained earlier is yielded at once,
// and a parked holder holds nothing.
void TestHoldDefersRecentPagesOnly() {
  std::vector<std::atomic<uint32_t>> attention(2);
  std::vector<TransferEdge> edges;
  Crew crew(PageGeometry(kBase, 4 * 4096), {{&attention[0], kCrewBit}, {&attention[1], kCrewBit}},
            [&](const TransferEdge& e) { edges.push_back(e); }, /*hold=*/1000);
  CHECK(crew.Acquire(1, 3, true, 0));    // vCPU 1 writes page 3 early on
  CHECK(crew.Acquire(1, 2, true, 100));  // and page 2 at instruction 100
  WithinSeconds(20, "hold", [&] {
    std::thread requester([&] { CHECK(crew.Acquire(0, 2, false, 7)); });
    while (!(attention[1].load() & kCrewBit)) std::this_thread::yield();
    CHECK(crew.Poll(1, 500) == 1100);  // held: poll again at 100 + 1000
    CHECK(edges.empty());
    CHECK(crew.Poll(1, 1100) == Crew::kNoDeferral);
    requester.join();
  });
  CHECK(edges.size() == 1 && edges[0] == (TransferEdge{2, 1, 1100, 0, 7}));
  WithinSeconds(20, "old page", [&] {
    std::thread requester([&] { CHECK(crew.Acquire(0, 3, true, 8)); });
    while (!(attention[1].load() & kCrewBit)) std::this_thread::yield();
    CHECK(crew.Poll(1, 1200) == Crew::kNoDeferral);  // gained at 0: past its hold
    requester.join();
  });
  CHECK(edges.size() == 2 && edges[1] == (TransferEdge{3, 1, 1200, 0, 8}));
  // Parked right after gaining a page: it is taken at once, hold or not.
  CHECK(crew.Acquire(1, 1, true, 1300));
  crew.Park(1, 1301);
  CHECK(crew.Acquire(0, 1, true, 9));
  CHECK(edges.size() == 3 && edges[2] == (TransferEdge{1, 1, 1301, 0, 9}));
}

// Three vCPUs whose wake hooks count their calls, and CREW over four 4 KiB pages keeping
// the edges it logs: the spin-wait and turn-sharing cases look at who was woken.
struct WakeCountingCrew {
  std::vector<std::atomic<uint32_t>> attention = std::vector<std::atomic<uint32_t>>(3);
  std::vector<int> woken = std::vector<int>(3, 0);
  std::vector<TransferEdge> edges;
  Crew crew{PageGeometry(kBase, 4 * 4096), Hooks(), [this](const TransferEdge& e) { edges.push_back(e); }};

  std::vector<VcpuHooks> Hooks() {
    std::vector<VcpuHooks> hooks;
    for (uint32_t v = 0; v < 3; ++v) hooks.push_back(VcpuHooks{&attention[v], kCrewBit, [this, v] { ++woken[v]; }});
    return hooks;
  }
};

// A spin-waiting vCPU parks with kSpinWait: taking its page needs none of its help,
// sets its attention bit and calls its wake hook; a plain park (wfi) is not woken. A
// spinner that gave a page up since it last ran must not sleep at all. A downgrade to
// read (a reader came) is neither: what the spinner reads is unchanged.
void TestSpinWaitParkWakes() {
  WakeCountingCrew fixture;
  auto& [attention, woken, edges, crew] = fixture;
  CHECK(crew.Acquire(1, 2, false, 10));  // vCPU 1 reads the lock word on page 2, then spins
  CHECK(crew.Acquire(2, 3, false, 20));  // vCPU 2 reads page 3, then sleeps in wfi
  crew.Park(1, 11, ParkReason::kSpinWait);
  crew.Park(2, 21);
  CHECK(crew.Acquire(0, 2, true, 100));  // the lock holder releases it: never waits
  CHECK(crew.Acquire(0, 3, true, 101));
  CHECK(woken[1] == 1 && (attention[1].load() & kCrewBit) != 0);
  CHECK(woken[2] == 0 && attention[2].load() == 0);
  CHECK(edges.size() == 2 && edges[0] == (TransferEdge{2, 1, 11, 0, 100}) && edges[1] == (TransferEdge{3, 2, 21, 0, 101}));
  crew.Unpark(1);
  crew.Unpark(2);
  // Unparked, then parked again without the flag: no more wake-ups.
  CHECK(crew.Acquire(1, 1, true, 12));
  crew.Park(1, 13);
  CHECK(crew.Acquire(0, 1, true, 102));
  CHECK(woken[1] == 1);
  crew.Unpark(1);

  // vCPU 1 reads page 1 again; a writer asks for it while vCPU 1 runs; vCPU 1 yields it at
  // a block boundary, then reaches its pause: the value it read may be stale already.
  attention[1] = 0;
  crew.Park(0, 103);  // vCPU 0 sleeps a moment: vCPU 1 takes page 1 back without its help
  CHECK(crew.Acquire(1, 1, false, 14));
  crew.Unpark(0);
  WithinSeconds(20, "yield before a spin", [&] {
    std::thread writer([&] { CHECK(crew.Acquire(0, 1, true, 104)); });
    while (!(attention[1].load() & kCrewBit)) std::this_thread::yield();
    attention[1] = 0;
    CHECK(crew.Poll(1, 15) == Crew::kNoDeferral);
    writer.join();
  });
  crew.Park(1, 16, ParkReason::kSpinWait);
  CHECK((attention[1].load() & kCrewBit) != 0);  // the futex wait returns at once
  crew.Unpark(1);
  attention[1] = 0;
  crew.Park(1, 17, ParkReason::kSpinWait);  // nothing yielded since: it may sleep
  CHECK(attention[1].load() == 0);
  crew.Unpark(1);

  // A spinner that wrote the page it spins on (a handshake's turn flag) is downgraded by a
  // reader: what it reads has not changed, so it sleeps on. The next writer wakes it.
  attention[1] = 0;
  crew.Park(0, 105);  // vCPU 0 holds page 2 (and 3): taken without its help
  CHECK(crew.Acquire(1, 2, true, 18));
  crew.Unpark(0);
  crew.Park(1, 19, ParkReason::kSpinWait);
  CHECK(attention[1].load() == 0);
  const int before = woken[1];
  CHECK(crew.Acquire(0, 2, false, 106));
  CHECK(woken[1] == before && attention[1].load() == 0);
  CHECK(crew.Permissions(1).Allows(2, false));
  crew.Park(0, 107);
  CHECK(crew.Acquire(2, 2, true, 22));
  CHECK(woken[1] == before + 1 && (attention[1].load() & kCrewBit) != 0);
  crew.Unpark(1);
  // Downgraded while it ran (at a Poll): parking again may sleep; only a lost page counts.
  attention[1] = 0;
  CHECK(crew.Acquire(1, 3, true, 23));
  crew.Unpark(0);
  WithinSeconds(20, "downgrade before a spin", [&] {
    std::thread reader([&] { CHECK(crew.Acquire(0, 3, false, 108)); });
    while (!(attention[1].load() & kCrewBit)) std::this_thread::yield();
    attention[1] = 0;
    CHECK(crew.Poll(1, 24) == Crew::kNoDeferral);
    reader.join();
  });
  crew.Park(1, 25, ParkReason::kSpinWait);
  CHECK(attention[1].load() == 0);
  crew.Unpark(1);

  // Without a wake hook, a spin-wait park is refused: nobody could wake the vCPU.
  std::atomic<uint32_t> bare{0};
  Crew hookless(PageGeometry(kBase, 4 * 4096), {{&bare, kCrewBit}}, [](const TransferEdge&) {});
  bool threw = false;
  try {
    hookless.Park(0, 1, ParkReason::kSpinWait);
  } catch (const std::invalid_argument&) {
    threw = true;
  }
  CHECK(threw);
}

// Serialized mode's pages shared within a group (docs/crew.md, "Pages shared within a
// group"): the turn's holder gets a member's page without taking it; its first write of it
// in a turn tells the members spinning on it; a vCPU outside the group takes the page from
// every member, following each; a member that left gives its shared pages up where it
// stands, and then follows the others like any free vCPU.
void TestTurnSharing() {
  WakeCountingCrew fixture;
  auto& [attention, woken, edges, crew] = fixture;
  uint32_t turn = 0;  // who holds the turn of group {0, 1}
  bool grouped = true;
  std::vector<uint32_t> wrote;
  crew.ShareWithinTurns({[&](uint32_t r, uint32_t h) { return grouped && r == turn && r < 2 && h < 2; },
                         [&](uint32_t v, std::vector<uint32_t>&) { wrote.push_back(v); }});
  CHECK(crew.Acquire(0, 1, true, 10));  // vCPU 0 writes the flag page, then spins
  crew.Park(0, 11, ParkReason::kSpinWait);
  turn = 1;
  CHECK(crew.Acquire(1, 1, false, 5));  // shared: vCPU 0 keeps its right
  CHECK(crew.Permissions(0).Allows(1, true) && crew.Permissions(1).Allows(1, false));
  CHECK(edges.empty() && woken[0] == 0 && wrote.empty());  // a read changes nothing vCPU 0 reads
  CHECK(crew.Acquire(1, 1, true, 6));  // the upgrade is shared too, and vCPU 0 hears of it
  CHECK(crew.Permissions(0).Allows(1, true) && crew.Permissions(1).Allows(1, true));
  CHECK(edges.empty() && woken[0] == 1 && (attention[0].load() & kCrewBit) != 0);
  CHECK((wrote == std::vector<uint32_t>{1}));
  crew.Park(1, 7, ParkReason::kSpinWait);
  crew.Unpark(0);
  attention[0] = 0;
  turn = 0;
  crew.BeginTurn(0);  // its first write in the turn faults ...
  CHECK(crew.Permissions(0).Allows(1, false) && !crew.Permissions(0).Allows(1, true));
  CHECK(crew.Acquire(0, 1, true, 12));  // ... finds nothing to transfer, and tells vCPU 1
  CHECK(crew.Permissions(0).Allows(1, true) && crew.Permissions(1).Allows(1, true));
  CHECK(edges.empty() && woken[1] == 1 && (wrote == std::vector<uint32_t>{1, 0}));
  // Spinning on a page the holder writes, vCPU 0 parks again: it does not sleep.
  crew.Unpark(1);
  attention[1] = 0;
  crew.BeginTurn(1);
  CHECK(crew.Acquire(1, 1, true, 8));  // vCPU 0 runs (its turn just ended): no wake-up ...
  CHECK(woken[0] == 1);
  crew.Park(0, 13, ParkReason::kSpinWait);  // ... but its park sees the change
  CHECK((attention[0].load() & kCrewBit) != 0);
  crew.Unpark(0);
  crew.Park(0, 13);
  crew.Park(1, 9);
  // vCPU 2, outside the group, reads the page: both members yield, and it follows both.
  CHECK(crew.Acquire(2, 1, false, 100));
  CHECK((edges == std::vector<TransferEdge>{{1, 0, 13, 2, 100}, {1, 1, 9, 2, 100}}));
  CHECK(crew.Permissions(0).Allows(1, false) && !crew.Permissions(0).Allows(1, true));
  crew.Park(2, 101);
  // The group dissolves. vCPU 1 leaves where it stopped and gives the shared page up before
  // it runs; its next write follows every other holder (a logged edge: it is free now).
  grouped = false;
  crew.Unshare(1, 9);
  CHECK(!crew.Permissions(1).Allows(1, false));
  crew.Unpark(1);
  edges.clear();
  CHECK(crew.Acquire(1, 1, true, 9));
  CHECK((edges == std::vector<TransferEdge>{{1, 0, 13, 1, 9}, {1, 2, 101, 1, 9}}));
  CHECK(!crew.Permissions(0).Allows(1, false) && !crew.Permissions(2).Allows(1, false));
  crew.Unshare(1, 9);  // nothing shared any more: a no-op
  CHECK(crew.Permissions(1).Allows(1, true));
}

// Writer starvation: vCPUs spin reading a lock word (each re-reads it as soon as it has
// yielded it), and one at a time must write it. Without fairness the writer waits until
// every reader happens to have yielded at once, which on a loaded host can take minutes.
void TestWriterAmongSpinningReaders(uint32_t vcpus) {
  constexpr int kRounds = 30;
  constexpr auto kPatience = std::chrono::seconds(10);  // then the readers give up for good
  std::vector<std::atomic<uint32_t>> attention(vcpus);
  std::vector<VcpuHooks> hooks;
  for (auto& a : attention) hooks.push_back(VcpuHooks{&a, kCrewBit});
  Crew crew(PageGeometry(kBase, 4096), hooks, [](const TransferEdge&) {});
  std::atomic<int> released{-1};  // the last round whose write went through
  std::atomic<bool> gave_up{false};
  std::barrier round_start(vcpus);
  double worst_ms = 0;
  auto vcpu = [&](uint32_t me) {
    uint64_t count = 0;
    for (int round = 0; round < kRounds; ++round) {
      {
        Crew::Parked between_rounds(crew, me, count);
        round_start.arrive_and_wait();
      }
      const uint32_t writer = static_cast<uint32_t>(round) % vcpus;
      const auto t0 = std::chrono::steady_clock::now();
      if (me == writer) {
        // A few blocks of reading first, so that the readers are spinning when it writes.
        for (uint64_t i = 0; i < 4 * kBlock; ++i, ++count) {
          if ((i % kBlock) == 0 && (attention[me].load(std::memory_order_acquire) & kCrewBit)) crew.Poll(me, count);
          if (!crew.Permissions(me).Allows(0, false)) crew.Acquire(me, 0, false, count);
        }
        if (attention[me].load(std::memory_order_acquire) & kCrewBit) crew.Poll(me, count);
        if (!crew.Permissions(me).Allows(0, true)) crew.Acquire(me, 0, true, count);
        ++count;  // the store that releases the lock
        const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
        worst_ms = std::max(worst_ms, ms);
        released.store(round, std::memory_order_release);
      } else {
        while (!gave_up && released.load(std::memory_order_acquire) < round) {  // spin on the lock word
          if (std::chrono::steady_clock::now() - t0 > kPatience) {
            gave_up = true;
            break;
          }
          if (attention[me].load(std::memory_order_acquire) & kCrewBit) crew.Poll(me, count);
          for (uint64_t i = 0; i < kBlock; ++i, ++count) {
            if (!crew.Permissions(me).Allows(0, false)) crew.Acquire(me, 0, false, count);
          }
        }
        if (gave_up) {
          Crew::Parked until_written(crew, me, count);  // let the writer through, to end the test
          while (released.load(std::memory_order_acquire) < round) std::this_thread::yield();
        }
      }
    }
    crew.Park(me, count);
  };
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (uint32_t v = 0; v < vcpus; ++v) threads.emplace_back(vcpu, v);
  for (auto& t : threads) t.join();
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("  %u vCPUs, %d writes among spinning readers: %.2f s, slowest write %.1f ms%s\n", vcpus, kRounds, s,
              worst_ms, gave_up ? " (readers gave up: the writer starved)" : "");
  CHECK(!gave_up);
}

template <typename E>
std::string ErrorOf(const std::function<void()>& body) {
  try {
    body();
  } catch (const E& e) {
    return e.what();
  }
  return {};
}

void TestBadLogs() {
  auto check_contains = [](const std::string& error, const char* needle) {
    if (error.find(needle) == std::string::npos) {
      rrkit::testing::Fail(__FILE__, __LINE__, std::string("expected an error containing \"") + needle + "\", got \"" + error + "\"");
    }
  };
  // Cycle: each waits (before 5) for the other to pass 10.
  std::vector<TransferEdge> cycle{{1, 0, 10, 1, 5}, {2, 1, 10, 0, 5}};
  check_contains(ErrorOf<InvalidEdgeLog>([&] { ReplayGate(2, cycle); }), "cycle");
  // A longer one: 0@3 waits for 1 to reach 21, past its gate @ 20, which waits for 2 to
  // reach 31, past its gate @ 30, which waits for 0 to reach 4.
  std::vector<TransferEdge> longer{{1, 1, 21, 0, 3}, {1, 2, 31, 1, 20}, {1, 0, 4, 2, 30}};
  check_contains(ErrorOf<InvalidEdgeLog>([&] { ReplayGate(3, longer); }), "cycle");
  // Not a cycle: a vCPU stopped at its gate @ 20 has reached 20.
  std::vector<TransferEdge> at_gate{{1, 1, 20, 0, 3}, {1, 2, 30, 1, 20}, {1, 0, 4, 2, 30}};
  CHECK(ErrorOf<InvalidEdgeLog>([&] { ReplayGate(3, at_gate); }).empty());
  // Not a cycle: 1@20 waits for 0 to pass 3 and 0@3 waits for nothing.
  std::vector<TransferEdge> fine{{1, 0, 3, 1, 20}, {1, 1, 20, 0, 3}};
  CHECK(ErrorOf<InvalidEdgeLog>([&] { ReplayGate(2, fine); }).empty());

  check_contains(ErrorOf<InvalidEdgeLog>([&] { ReplayGate(2, {{1, 0, 3, 5, 20}}); }), "lacks");
  check_contains(ErrorOf<InvalidEdgeLog>([&] { ReplayGate(2, {{1, 1, 3, 1, 20}}); }), "itself");
  check_contains(ErrorOf<InvalidEdgeLog>([&] {
                   ReplayGate(2, {{1, 0, 300, 1, 20}}, std::vector<uint64_t>{100, 100}, {});
                 }),
                 "truncated");

  // A truncated log at run time: vCPU 0's part ends early, vCPU 1 waits on a count it
  // never reaches. Fails at once, naming who waits for what.
  Recording rec;
  rec.run.observed.resize(2);
  rec.final_counts = {4000, 4000};
  rec.edges = {{0, 0, 500, 1, 700}, {0, 0, 3000, 1, 3500}};
  std::string truncated;
  WithinSeconds(30, "truncated replay", [&] {
    truncated = ErrorOf<ReplayStalled>([&] { Replay(rec, 1, {}, {1000, 4000}); });
  });
  check_contains(truncated, "finished before");
  check_contains(truncated, "waiting for vcpu 0 to reach");

  // A predecessor that stops advancing without finishing (stuck): the stall timeout.
  std::string stalled;
  WithinSeconds(30, "stalled replay", [&] {
    ReplayGate gate(2, {{1, 0, 10, 1, 5}}, std::nullopt, ReplayGate::Options{std::chrono::milliseconds(200)});
    gate.Publish(0, 3);  // vCPU 0 is stuck at 3 (its thread blocked elsewhere)
    stalled = ErrorOf<ReplayStalled>([&] { gate.WaitAt(1, 5); });
  });
  check_contains(stalled, "no vCPU advanced");
  check_contains(stalled, "vcpu 1: @ 5 waiting for vcpu 0 to reach 10 (it is at 3)");

  // With a running-stall timeout, a predecessor that is not waiting anywhere (kvm: a long
  // stretch between exits) is given that long; one waiting at a gate itself is not.
  WithinSeconds(30, "running predecessor", [&] {
    ReplayGate gate(2, {{1, 0, 10, 1, 5}}, std::nullopt,
                    ReplayGate::Options{std::chrono::milliseconds(100), std::chrono::milliseconds(5000)});
    gate.Publish(0, 3);
    std::thread zero([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(600));  // six stall timeouts without a landmark
      gate.Publish(0, 10);
    });
    gate.WaitAt(1, 5);  // does not throw
    zero.join();
  });
  // ... but not forever: a predecessor stuck outside the gate fails after that timeout.
  std::string stuck;
  WithinSeconds(30, "stuck predecessor, running timeout", [&] {
    ReplayGate gate(2, {{1, 0, 10, 1, 5}}, std::nullopt,
                    ReplayGate::Options{std::chrono::milliseconds(100), std::chrono::milliseconds(400)});
    gate.Publish(0, 3);
    const auto started = std::chrono::steady_clock::now();
    stuck = ErrorOf<ReplayStalled>([&] { gate.WaitAt(1, 5); });
    if (std::chrono::steady_clock::now() - started < std::chrono::milliseconds(400)) stuck = "failed before the running timeout";
  });
  check_contains(stuck, "no vCPU advanced");
}

// ---------------------------------------------------------------- serialized-mode record

// The Serializer driven by hand, as one engine thread per vCPU would drive it.
struct SerializerDriver {
  std::vector<SerialRecord> records;
  std::vector<uint32_t> stopped, woken, handed;
  Serializer serializer;

  explicit SerializerDriver(uint32_t vcpus, SerializerOptions options)
      : serializer(vcpus, options, [this](const SerialRecord& r) { records.push_back(r); },
                   SerializerHooks{[this](uint32_t v) { stopped.push_back(v); }, [this](uint32_t v) { woken.push_back(v); },
                                   [this](uint32_t v) { handed.push_back(v); }}) {}

  // Page 1 changes hands among `vcpus` (at these counts) fast enough to serialize them.
  void Share(const std::vector<std::pair<uint32_t, uint64_t>>& at) {
    for (size_t i = 1; i < at.size(); ++i) {
      serializer.OnTransfer(TransferEdge{1, at[i - 1].first, at[i - 1].second, at[i].first, at[i].second});
    }
  }
};

// A spinner without the turn, whose page the holder takes, only wants the turn: nobody
// wakes its thread for that (the turn's hand-over does, when its turn comes). The free, the
// holder and a member of a group whose holder is idle are woken as before.
void TestSerializerParkedSpinnerWantsTurn() {
  SerializerOptions options;
  options.window = 1000;
  options.quantum = 1000;
  SerializerDriver p(4, options);
  p.Share({{0, 0}, {1, 0}, {2, 10}, {0, 1500}});  // span 1500 >= window, 3 transfers: hot
  CHECK((p.stopped == std::vector<uint32_t>{0, 1, 2}));
  Serializer& s = p.serializer;
  s.Stopped(0, 1500, true);
  s.Stopped(1, 10, true);
  CHECK(p.handed.empty());  // vCPU 2 has not stopped yet
  s.Stopped(2, 20, true);
  CHECK((p.handed == std::vector<uint32_t>{0}));  // the first turn, handed to the first member
  CHECK(s.WantTurn(0, 1500));
  CHECK(!s.EndTurn(0, 1600, Serializer::Why::kIdle));  // spins: the turn goes to vCPU 1
  // ... active at once, where vCPU 1 stopped: it may run without asking (HoldsTurn)
  CHECK(s.HoldsTurn(1) && !s.HoldsTurn(0) && !s.HoldsTurn(2) && s.TurnEnd(1) == 10 + 1000);
  CHECK(s.WantTurn(1, 10));
  CHECK(!s.EndTurn(1, 50, Serializer::Why::kIdle));    // ... and on to vCPU 2
  CHECK(s.WantTurn(2, 20));
  CHECK((p.handed == std::vector<uint32_t>{0, 1, 2}));

  CHECK(!s.WantsTurnWhileParked(3));  // free: wake it
  CHECK(!s.WantsTurnWhileParked(2));  // the holder: wake it
  CHECK(s.WantsTurnWhileParked(0));   // a member without the turn: it wants it now
  CHECK(p.woken.empty());
  CHECK(!s.EndTurn(2, 30, Serializer::Why::kIdle));  // vCPU 0 wants it, vCPU 1 does not
  CHECK((p.handed == std::vector<uint32_t>{0, 1, 2, 0}));
  CHECK(s.WantTurn(0, 1600));
  CHECK(!s.EndTurn(0, 1700, Serializer::Why::kIdle));  // nobody wants it: vCPU 0 keeps it, idle
  CHECK(!s.WantsTurnWhileParked(1));  // its group's holder is idle: woken, it takes over
  CHECK(s.WantTurn(1, 50));
  CHECK(s.HoldsTurn(1) && s.TurnEnd(1) == 50 + 1000);
  // The holder's write concerns several spinners: one call decides for all of them. vCPU 0,
  // a member without the turn, only wants it now; the free vCPU 3 and the holder are woken.
  std::vector<uint32_t> spinners{3, 0, 1};
  s.WroteShared(1, spinners);
  CHECK((spinners == std::vector<uint32_t>{3, 1}));
  CHECK(!s.EndTurn(1, 60, Serializer::Why::kIdle));
  CHECK(s.HoldsTurn(0) && (p.handed == std::vector<uint32_t>{0, 1, 2, 0, 0}));
  const std::vector<SerialRecord> expected{
      ModeSwitch{0, 1500, 0, true}, ModeSwitch{1, 10, 0, true}, ModeSwitch{2, 20, 0, true}, TurnSwitch{0, 1500, 0},
      TurnSwitch{0, 1600, 1},       TurnSwitch{1, 50, 2},       TurnSwitch{2, 30, 0},         TurnSwitch{0, 1700, 1},
      TurnSwitch{1, 60, 0}};
  CHECK(p.records == expected);
}

// Sharing within a group (crew.h, TurnSharing): only the holder of a turn shares, only with
// its group's members; a turn that writes a shared page counts as a turn that shared (the
// group stays), whoever else claims to; and every member, having left, is told so once.
void TestSerializerSharesWithinTurns() {
  SerializerOptions options;
  options.window = 1000;
  options.quantum = 1000;
  options.idle_turns = 2;
  SerializerDriver p(3, options);
  p.Share({{0, 0}, {1, 0}, {0, 1500}});
  CHECK((p.stopped == std::vector<uint32_t>{0, 1}));
  Serializer& s = p.serializer;
  CHECK(!s.Shares(0, 1));  // not started yet
  s.Stopped(0, 1500, true);
  s.Stopped(1, 10, true);
  CHECK(s.WantTurn(0, 1500));
  CHECK(s.Shares(0, 1) && !s.Shares(1, 0) && !s.Shares(0, 2) && !s.Shares(2, 0));
  std::vector<uint32_t> spinners;
  s.WroteShared(0, spinners);
  CHECK(!s.EndTurn(0, 2500, Serializer::Why::kQuantum));  // a turn that shared
  CHECK(s.WantTurn(1, 10));
  CHECK(s.Shares(1, 0) && !s.Shares(0, 1));
  CHECK(!s.EndTurn(1, 1010, Serializer::Why::kQuantum));  // one without
  CHECK(s.WantTurn(0, 2500));
  s.WroteShared(0, spinners);
  CHECK(!s.EndTurn(0, 3500, Serializer::Why::kQuantum));  // shared: the count starts again
  CHECK(s.WantTurn(1, 1010));
  CHECK(!s.EndTurn(1, 2010, Serializer::Why::kQuantum));  // one without
  CHECK(s.WantTurn(0, 3500));
  s.WroteShared(1, spinners);  // not the holder: it does not count
  CHECK(!s.TakeLeft(0) && !s.TakeLeft(1));
  CHECK(!s.EndTurn(0, 4500, Serializer::Why::kQuantum));  // two without
  CHECK(s.WantTurn(1, 2010));
  CHECK(s.EndTurn(1, 3010, Serializer::Why::kQuantum));  // the group leaves; vCPU 1 runs on, free
  CHECK(!s.Shares(1, 0));
  CHECK(s.TakeLeft(0) && s.TakeLeft(1) && !s.TakeLeft(1) && !s.TakeLeft(2));
}

// vCPUs that a probe sent back to parallel come back as soon as their page has changed
// hands as often as a hot window needs; after a group left for sharing nothing, the same
// transfers wait for the window's end, as before.
void TestSerializerBackFromProbe() {
  for (const bool by_probe : {true, false}) {
    SerializerOptions options;
    options.window = 100'000;  // 5 transfers make a hot window at 50 per million
    options.quantum = 1000;
    options.probe = by_probe ? 2000 : 1'000'000;
    options.idle_turns = 1;
    SerializerDriver p(2, options);
    p.Share({{0, 0}, {1, 0}, {0, 10}, {1, 10}, {0, 20}, {1, 20}, {0, 100'000}});  // 6 in a window: hot
    CHECK((p.stopped == std::vector<uint32_t>{0, 1}));
    Serializer& s = p.serializer;
    s.Stopped(0, 100'000, true);
    s.Stopped(1, 20, true);
    CHECK(s.WantTurn(0, 100'000));
    CHECK(!s.OnTransfer(TransferEdge{1, 1, 20, 0, 100'000}));  // into the holder: implied by the turns
    CHECK(!s.EndTurn(0, 101'000, Serializer::Why::kQuantum));
    CHECK(s.WantTurn(1, 20));
    uint64_t end0 = 101'000;
    if (by_probe) {
      CHECK(!s.OnTransfer(TransferEdge{1, 0, 101'000, 1, 20}));
      CHECK(s.EndTurn(1, 1020, Serializer::Why::kQuantum));  // 2000 instructions of turns: the probe
    } else {
      CHECK(!s.EndTurn(1, 1020, Serializer::Why::kQuantum));  // nothing shared in vCPU 1's turn ...
      CHECK(s.WantTurn(0, 101'000));
      end0 = 102'000;
      CHECK(s.EndTurn(0, end0, Serializer::Why::kQuantum));  // ... so the group leaves for idleness
    }
    CHECK(!s.InGroup(0) && !s.InGroup(1));
    p.stopped.clear();
    // Back in parallel: the page changes hands 6 times within a few hundred instructions.
    p.Share({{0, end0}, {1, 1100}, {0, end0 + 100}, {1, 1200}, {0, end0 + 200}, {1, 1300}, {0, end0 + 300}});
    std::sort(p.stopped.begin(), p.stopped.end());
    if (by_probe) {
      CHECK((p.stopped == std::vector<uint32_t>{0, 1}));
    } else {
      CHECK(p.stopped.empty());
    }
  }
}

// A page far above the threshold (16 times the rate over a sixteenth of a window) serializes
// its vCPUs before its window ends; a burst of transfers (a barrier) in fewer instructions
// than that, or followed by a quiet stretch, does not.
void TestSerializerEarlyDecision() {
  SerializerOptions options;
  options.window = 160'000;  // a sixteenth: 10 000 instructions; 16 times the rate: 800 per million
  const auto trades = [](uint64_t from, uint64_t step, int n) {
    std::vector<std::pair<uint32_t, uint64_t>> at;
    for (int i = 0; i < n; ++i) at.push_back({static_cast<uint32_t>(i % 2), from + step * static_cast<uint64_t>(i)});
    return at;
  };
  SerializerDriver steady(2, options);
  steady.Share(trades(0, 1000, 10));  // 9 transfers over 9 000 instructions: not yet a sixteenth
  CHECK(steady.stopped.empty());
  steady.Share({{1, 9000}, {0, 10'000}});  // 10 over 10 000: 1 000 per million
  CHECK((steady.stopped == std::vector<uint32_t>{0, 1}));

  SerializerDriver burst(2, options);
  burst.Share(trades(0, 10, 40));  // 39 transfers within 400 instructions
  burst.Share({{1, 390}, {0, 60'000}});  // then one 60 000 instructions later: 667 per million
  CHECK(burst.stopped.empty());
}

// ---------------------------------------------------------------- serialized-mode replay

using Pass = TurnFollower::Pass;

// test/fixtures/order-dependence, forced: vCPU 2 joins a group whose holder, vCPU 0, is
// idle at 1600 (it spins; nobody else wants the turn). From the join on, vCPU 0's accesses
// to vCPU 2's pages are shared grants without edges, ordered after vCPU 2's only by the
// join; and vCPU 0 goes on from 1600 without a turn switch of its own. So the recorder
// follows the join with a turn switch from vCPU 0 to itself at 1600, and the replay holds
// vCPU 0 there until vCPU 2 has reached its join. (Without that record vCPU 0 ran on at
// once; in a recording of locked-ring on 8 vCPUs it read the lock word before the joiner's
// write, and the replay ended with no output.) The same at a holder's turn end, where it
// keeps the turn for a new quantum.
void TestSerializerJoinPinsHolder() {
  SerializerOptions options;
  options.window = 1000;
  options.quantum = 1000;
  SerializerDriver p(4, options);
  Serializer& s = p.serializer;
  p.Share({{0, 0}, {1, 0}, {0, 1500}});
  s.Stopped(0, 1500, true);
  s.Stopped(1, 10, false);  // asleep: it does not want the turn
  CHECK(s.WantTurn(0, 1500));
  CHECK(!s.EndTurn(0, 1600, Serializer::Why::kIdle));  // nobody wants it: vCPU 0 keeps it, idle
  s.OnTransfer(TransferEdge{3, 0, 1600, 2, 0});
  s.OnTransfer(TransferEdge{3, 2, 1500, 0, 1600});  // hot: vCPU 2 joins vCPU 0's group
  CHECK((p.stopped == std::vector<uint32_t>{0, 1, 2}));
  s.Stopped(2, 1500, false);
  CHECK(s.WantTurn(0, 1600));  // back from idle: its turn goes on, no record
  s.OnTransfer(TransferEdge{5, 0, 1700, 3, 0});  // vCPU 3 joins while vCPU 0 runs ...
  s.OnTransfer(TransferEdge{5, 3, 1500, 0, 1800});
  s.Stopped(3, 1500, false);
  CHECK(!s.InGroup(3));                                  // ... at vCPU 0's turn end
  CHECK(s.EndTurn(0, 2600, Serializer::Why::kQuantum));  // which keeps the turn: nobody else wants it
  CHECK(s.InGroup(3));
  const std::vector<SerialRecord> expected{
      ModeSwitch{0, 1500, 0, true}, ModeSwitch{1, 10, 0, true}, TurnSwitch{0, 1500, 0}, ModeSwitch{2, 1500, 0, true},
      TurnSwitch{0, 1600, 0},       ModeSwitch{3, 1500, 0, true}, TurnSwitch{0, 2600, 0}};
  CHECK(p.records == expected);

  TurnFollower f(4);
  std::vector<uint32_t> woken;
  f.SetWake([&](uint32_t v) { woken.push_back(v); });
  for (const SerialRecord& r : p.records) f.Add({r, 0});
  CHECK(f.TryPass(0, 1500, 0) == TurnFollower::Pass::kWaitRecord);  // vCPU 1's join first
  CHECK(f.TryPass(1, 10, 0) == TurnFollower::Pass::kWaitTurn);
  CHECK(f.TryPass(0, 1500, 0) == TurnFollower::Pass::kGo);
  CHECK(f.TryPass(0, 1600, 0) == TurnFollower::Pass::kWaitRecord);  // held until vCPU 2 joins
  woken.clear();
  CHECK(f.TryPass(2, 1500, 0) == TurnFollower::Pass::kWaitTurn);
  CHECK((woken == std::vector<uint32_t>{0}));
  CHECK(f.TryPass(0, 1600, 0) == TurnFollower::Pass::kGo);
  CHECK(f.TryPass(0, 2600, 0) == TurnFollower::Pass::kWaitRecord);  // and until vCPU 3 joins
  CHECK(f.TryPass(3, 1500, 0) == TurnFollower::Pass::kWaitTurn);
  CHECK(f.TryPass(0, 2600, 0) == TurnFollower::Pass::kGo);
  CHECK(f.Pending() == 0);
}

// The stall of issue 15's 16-vCPU locked-ring replay, forced: vCPU 4 waits for its turn
// at 1500 (its quantum ended there) when checkpoint 1 is taken with vCPU 0 at 1800 and
// vCPU 4 at 1500; after it, vCPU 0 gives vCPU 4 the turn at 1836, and vCPU 4 gives it
// back where it stands (asleep), so both of those records come after the checkpoint. The
// replay's reader hands them to the follower while vCPU 4 waits at 1500 and before the
// engine has scheduled that cut. vCPU 4 must join the cut first: the follower says so from
// the cuts completed alone. (Before, the engine passed "no cut here" when it had not
// scheduled one, the follower looked past the checkpoint, vCPU 4 waited for vCPU 0's
// record @ 1836, and vCPU 0 waited at the cut @ 1800 for vCPU 4: "every hart waits".)
void TestTurnFollowerCutBeforeRecord() {
  constexpr uint64_t kGroup = 7;
  TurnFollower f(5);
  std::vector<uint32_t> woken;
  f.SetWake([&](uint32_t v) { woken.push_back(v); });
  for (const SerialRecord& r : std::vector<SerialRecord>{ModeSwitch{0, 100, kGroup, true}, ModeSwitch{4, 200, kGroup, true},
                                                         TurnSwitch{0, 100, 0}, TurnSwitch{0, 1000, 4}, TurnSwitch{4, 1500, 0}}) {
    f.Add({r, 0});
  }
  CHECK(f.TryPass(0, 100, 0) == Pass::kWaitRecord);  // vCPU 4's join comes before vCPU 0's first turn
  CHECK(f.TryPass(4, 200, 0) == Pass::kWaitTurn);
  CHECK(f.TryPass(0, 100, 0) == Pass::kGo);
  CHECK(f.TryPass(0, 1000, 0) == Pass::kWaitTurn);
  CHECK(f.TryPass(4, 200, 0) == Pass::kGo);
  CHECK(f.TryPass(4, 1500, 0) == Pass::kWaitTurn);  // waits for its turn at 1500 ...
  CHECK(f.TryPass(0, 1000, 0) == Pass::kGo);         // ... while vCPU 0 runs on to its cut @ 1800
  CHECK(f.Pending() == 0);

  // The reader decodes checkpoint 1, then the two records after it, waking vCPU 4.
  woken.clear();
  f.Add({TurnSwitch{0, 1836, 4}, 1});
  f.Add({TurnSwitch{4, 1500, 0}, 1});
  CHECK(std::find(woken.begin(), woken.end(), 4u) != woken.end());
  CHECK(f.NextStop(4) == 1500 && f.NextCheckpointsBefore(4) == 1);
  // No cut completed yet: vCPU 4 joins the cut at 1500 first; it neither passes its record
  // nor waits for vCPU 0's.
  CHECK(f.TryPass(4, 1500, 0) == Pass::kCutFirst);
  CHECK(f.Describe(4).empty());
  CHECK(f.Pending() == 2);
  CHECK(f.TryPass(0, 1800, 0) == Pass::kGo);  // vCPU 0 at its cut count: nothing of its own there
  // Cut 1 completed (both joined it): the turns go on as recorded.
  CHECK(f.TryPass(4, 1500, 1) == Pass::kWaitRecord);  // vCPU 0's record @ 1836 first
  CHECK(f.TryPass(0, 1836, 1) == Pass::kWaitTurn);    // gives the turn to vCPU 4 ...
  CHECK(f.TryPass(4, 1500, 1) == Pass::kWaitTurn);    // ... which gives it back at once
  CHECK(f.TryPass(0, 1836, 1) == Pass::kGo);
  CHECK(f.Pending() == 0);
}

// Replay then live: at the end of the log every group leaves serialized mode where its
// members stand; those records, after the replayed ones, are a sequence a replay of the
// next log accepts and follows to every vCPU running freely.
void TestTurnFollowerLeaving() {
  const std::vector<SerialRecord> records{ModeSwitch{1, 50, 3, true}, ModeSwitch{2, 60, 3, true}, ModeSwitch{0, 70, 3, true},
                                          TurnSwitch{1, 50, 1},       TurnSwitch{1, 400, 2},      TurnSwitch{2, 500, 0}};
  // Each vCPU stops at its counts in order, going on to the next only when it may execute
  // (one thread plays every vCPU, round after round, until nothing moves).
  using Stops = std::vector<std::vector<uint64_t>>;
  auto follow = [](TurnFollower& f, const Stops& stops, uint64_t cuts) {
    std::vector<size_t> at(stops.size(), 0);
    for (int round = 0; round < 16; ++round) {
      for (uint32_t v = 0; v < stops.size(); ++v) {
        if (at[v] < stops[v].size() && f.TryPass(v, stops[v][at[v]], cuts) == Pass::kGo && at[v] + 1 < stops[v].size()) ++at[v];
      }
    }
  };
  const Stops stops{{70, 700}, {50, 400}, {60, 500}, {}};
  const std::vector<uint64_t> ends{700, 400, 500, 900};  // vCPU 0 holds the turn and ran on to 700; 3 never joined
  TurnFollower f(4);
  for (const SerialRecord& r : records) f.Add({r, 0});
  CHECK(!ErrorOf<std::logic_error>([&] { (void)f.Leaving(ends); }).empty());  // records not followed yet
  follow(f, stops, 0);
  CHECK(f.Pending() == 0);
  CHECK(!ErrorOf<std::logic_error>([&] { (void)f.Leaving({700, 399, 500, 900}); }).empty());  // below vCPU 1's record @ 400
  const std::vector<ModeSwitch> leaving = f.Leaving(ends);
  const std::vector<ModeSwitch> expected{{0, 700, 3, false}, {1, 400, 3, false}, {2, 500, 3, false}};
  CHECK(leaving == expected);

  // The next log: the same records, a checkpoint at the switch, the leaves after it.
  TurnFollower next(4);
  for (const SerialRecord& r : records) next.Add({r, 0});
  for (const ModeSwitch& m : leaving) next.Add({m, 1});
  follow(next, stops, 0);
  CHECK(next.Pending() == 3);
  CHECK(next.TryPass(1, 400, 0) == Pass::kCutFirst);  // the switch's cut first
  follow(next, {{700}, {400}, {500}, {}}, 1);
  CHECK(next.Pending() == 0);
  for (uint32_t v = 0; v < 4; ++v) CHECK(next.TryPass(v, ends[v], 1) == Pass::kGo);  // every vCPU free
  // A group the live part forms may reuse the recorded group's id.
  next.Add({ModeSwitch{1, 800, 3, true}, 1});
  CHECK(next.Pending() == 1);
}

// ---------------------------------------------------------------- measurements

void BenchFastPath() {
  PageGeometry g(kBase, 128 << 20);
  PermissionTable t(g.page_count());
  for (uint64_t p = 0; p < g.page_count(); p += 3) t.Set(p, Access::kWrite);
  constexpr uint64_t kChecks = 200'000'000;
  uint64_t allowed = 0, address = kBase;
  auto t0 = std::chrono::steady_clock::now();
  for (uint64_t i = 0; i < kChecks; ++i) {
    address = kBase + ((address * 6364136223846793005ull + 1442695040888963407ull) & ((128 << 20) - 8));
    allowed += t.Allows(g.PageOf(address), i & 1);
  }
  auto t1 = std::chrono::steady_clock::now();
  uint64_t sink = 0;
  address = kBase;
  for (uint64_t i = 0; i < kChecks; ++i) {  // the same loop without the check
    address = kBase + ((address * 6364136223846793005ull + 1442695040888963407ull) & ((128 << 20) - 8));
    sink += (address >> 12) & 1;
  }
  auto t2 = std::chrono::steady_clock::now();
  const double with = std::chrono::duration<double, std::nano>(t1 - t0).count() / kChecks;
  const double without = std::chrono::duration<double, std::nano>(t2 - t1).count() / kChecks;
  std::printf("  fast-path check (128 MiB, 4 KiB pages, random addresses): %.2f ns per access with the check, "
              "%.2f ns without (%llu %llu)\n",
              with, without, static_cast<unsigned long long>(allowed % 2), static_cast<unsigned long long>(sink % 2));
}

// Microseconds per transfer when two vCPUs write one page in turn, one trial.
double TransferTrial(std::chrono::milliseconds duration) {
  std::vector<std::atomic<uint32_t>> attention(2);
  uint64_t transfers = 0;
  Crew crew(PageGeometry(kBase, 4096), {{&attention[0], kCrewBit}, {&attention[1], kCrewBit}},
            [&](const TransferEdge&) { ++transfers; });
  std::atomic<bool> stop{false};
  auto vcpu = [&](uint32_t me) {
    uint64_t count = 0;
    while (!stop.load(std::memory_order_relaxed)) {
      for (int i = 0; i < 64; ++i, ++count) {  // a block of 64 writes to the one page
        if (!crew.Permissions(me).Allows(0, true)) crew.Acquire(me, 0, true, count);
      }
      if (attention[me].load(std::memory_order_acquire) & kCrewBit) crew.Poll(me, count);
    }
    crew.Park(me, count);
  };
  auto t0 = std::chrono::steady_clock::now();
  std::thread a(vcpu, 0), b(vcpu, 1);
  std::this_thread::sleep_for(duration);
  stop = true;
  a.join();
  b.join();
  const double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
  return us / static_cast<double>(std::max<uint64_t>(transfers, 1));
}

void BenchTransfer() {
  std::vector<double> trials;
  for (int i = 0; i < 7; ++i) trials.push_back(TransferTrial(std::chrono::milliseconds(300)));
  std::sort(trials.begin(), trials.end());
  std::printf("  write ping-pong of one page between 2 vCPUs (64-instruction blocks), 7 trials: "
              "best %.2f us, median %.2f us, worst %.2f us per transfer (host load: see uptime)\n",
              trials.front(), trials[trials.size() / 2], trials.back());

  // The protocol's own work per transfer, without a thread wake-up: one thread drives
  // two vCPUs, the holder parked each time (Park + Acquire + Unpark).
  {
    std::vector<std::atomic<uint32_t>> attention(2);
    uint64_t transfers = 0;
    Crew crew(PageGeometry(kBase, 4096), {{&attention[0], kCrewBit}, {&attention[1], kCrewBit}},
              [&](const TransferEdge&) { ++transfers; });
    crew.Acquire(1, 0, true, 0);
    constexpr uint64_t kTransfers = 200'000;
    auto p0 = std::chrono::steady_clock::now();
    for (uint64_t i = 1; i <= kTransfers; ++i) {
      const uint32_t me = i & 1, holder = 1 - me;
      crew.Park(holder, i);
      crew.Acquire(me, 0, true, i);
      crew.Unpark(holder);
    }
    const double per = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - p0).count() /
                       static_cast<double>(transfers);
    std::printf("  protocol work per transfer, holder parked, one thread: %.3f us\n", per);
  }

  // The uncontended part: first touches (no holder to wait for).
  std::atomic<uint32_t> solo_attention{0};
  PageGeometry g(kBase, 64 << 20);
  Crew solo(g, {{&solo_attention, kCrewBit}}, [](const TransferEdge&) {});
  auto s0 = std::chrono::steady_clock::now();
  for (uint64_t p = 0; p < g.page_count(); ++p) solo.Acquire(0, p, true, p);
  const double per = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - s0).count() /
                     static_cast<double>(g.page_count());
  std::printf("  uncontended fault (first touch): %.3f us\n", per);
}

}  // namespace
}  // namespace rrkit::crew

int main(int argc, char** argv) {
  using namespace rrkit::crew;
  const bool bench = argc == 2 && std::strcmp(argv[1], "--bench") == 0;
  const bool quick = std::getenv("CREW_TEST_QUICK") != nullptr;  // the ThreadSanitizer build
  const uint64_t n = quick ? 3000 : 20000;
  const std::vector<std::pair<const char*, std::function<void()>>> tests{
      {"page geometry", TestGeometry},
      {"permission table", TestPermissionTable},
      {"ownership edges", TestOwnershipEdges},
      {"ownership: writers sharing a page within a group each leave a landmark", TestOwnershipSharedWriters},
      {"transfer statistics", TestStats},
      {"record/replay 2 vCPUs, 4 KiB pages", [&] { TestRecordReplay(2, 4096, n); }},
      {"record/replay 4 vCPUs, 4 KiB pages", [&] { TestRecordReplay(4, 4096, n); }},
      {"record/replay 8 vCPUs, 4 KiB pages", [&] { TestRecordReplay(8, 4096, n); }},
      {"record/replay 2 vCPUs, 64 B pages", [&] { TestRecordReplay(2, 64, n); }},
      {"record/replay 4 vCPUs, 64 B pages", [&] { TestRecordReplay(4, 64, n); }},
      {"record/replay 8 vCPUs, 64 B pages", [&] { TestRecordReplay(8, 64, n); }},
      {"record/replay 2 vCPUs, 64 B pages, 3 pages along each stop", [&] { TestRecordReplay(2, 64, n, 3); }},
      {"record/replay 4 vCPUs, 64 B pages, 3 pages along each stop", [&] { TestRecordReplay(4, 64, n, 3); }},
      {"grants along a stop: untouched pages, and pages of stopped holders only", TestGrantsAlong},
      {"M:N record/replay 2 vCPUs on 1 thread", [&] { TestRecordReplayManyToFew(2, 1, n); }},
      {"M:N record/replay 4 vCPUs on 1 thread", [&] { TestRecordReplayManyToFew(4, 1, n); }},
      {"M:N record/replay 2 vCPUs on 2 threads", [&] { TestRecordReplayManyToFew(2, 2, n); }},
      {"M:N record/replay 4 vCPUs on 2 threads", [&] { TestRecordReplayManyToFew(4, 2, n); }},
      {"M:N record/replay 8 vCPUs on 2 threads", [&] { TestRecordReplayManyToFew(8, 2, n); }},
      {"cross fault at a barrier: no deadlock", TestCrossFaultNoDeadlock},
      {"cross fault while running: no deadlock", TestCrossFaultWhileRunning},
      {"idle holder yields; stop releases waiters", TestIdleHolderYields},
      {"spin-wait park: taking a page wakes the spinner, a downgrade does not", TestSpinWaitParkWakes},
      {"hold: recent pages deferred, older ones yielded, parked holders hold nothing", TestHoldDefersRecentPagesOnly},
      {"pages shared within a serialized group: no transfer per turn, spinners told, outsiders follow every member", TestTurnSharing},
      {"writer among 4 spinning readers: no starvation", [] { TestWriterAmongSpinningReaders(4); }},
      {"writer among 8 spinning readers: no starvation", [] { TestWriterAmongSpinningReaders(8); }},
      {"bad logs: clear errors, no hang", TestBadLogs},
      {"serializer: a spinner without the turn only wants it when its page is taken", TestSerializerParkedSpinnerWantsTurn},
      {"serializer: back from a probe, a hot page serializes again at once", TestSerializerBackFromProbe},
      {"serializer: only the turn's holder shares, with its members; a written shared page keeps the group", TestSerializerSharesWithinTurns},
      {"serializer: a page far above the threshold serializes early, a burst does not", TestSerializerEarlyDecision},
      {"serializer: a join pins the stopped or idle holder where it stands, and replay holds it there", TestSerializerJoinPinsHolder},
      {"turn follower: a record logged after a cut waits for that cut, not for its group", TestTurnFollowerCutBeforeRecord},
      {"turn follower: every group leaves where its members stand, and the next log follows", TestTurnFollowerLeaving},
  };
  // A test that deadlocks stops the program with a message instead of hanging its caller.
  for (const auto& [name, body] : tests) {
    rrkit::testing::Register(name, [name = std::string(name), body = body] { WithinSeconds(300, name.c_str(), body); });
  }
  if (!bench) return rrkit::testing::RunTests(argc, argv);
  const int status = rrkit::testing::RunTests(1, argv);
  std::printf("measurements\n");
  BenchFastPath();
  BenchTransfer();
  return status;
}
