// The kvm engine's SMP glue without /dev/kvm (docs/kvm-smp.md): which pages an instruction
// touches (Zydis), how pending rights become protect calls, CREW recording over fake
// page protectors (transfers only at landmarks, fault records with their edge counts),
// and replay's arming, checks and gate over the same fakes. Run through vitest
// (test/kvm-crew-glue.test.ts), one case per test.
#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "kvm/access_decoder.h"
#include "kvm/crew_recording.h"
#include "kvm/crew_replay.h"
#include "kvm/page_rights.h"
#include "replay/divergence.h"
#include "replay/log_error.h"
#include "tools/test_harness.h"

namespace rrkit::kvm {
namespace {

using crew::Access;

// A replay that has read `edges` and `faults` from the log.
std::unique_ptr<CrewReplay> ReplayOf(const std::vector<replay::CrewTransferRecord>& edges, const std::vector<replay::CrewFaultRecord>& faults,
                                     std::vector<PageProtector*> protectors, std::chrono::milliseconds stall) {
  auto replay = std::make_unique<CrewReplay>(2, crew::PageGeometry(0, (4 << 20) + 4096, 4096), std::move(protectors),
                                             crew::ReplayGate::Options{stall});
  for (const replay::CrewTransferRecord& e : edges) replay->AddEdge(e);
  for (const replay::CrewFaultRecord& f : faults) replay->AddFault(f);
  return replay;
}

// A vCPU's call that must wait at the gate, on a thread of its own: the test checks that it
// has not passed yet, lets it through, and joins it (joined on destruction too, so a failed
// check never leaves a running thread behind).
class GatedCall {
 public:
  explicit GatedCall(std::function<bool()> call)
      : thread_([this, call = std::move(call)] {
          CHECK(call());
          passed_ = true;
        }) {}
  ~GatedCall() {
    if (thread_.joinable()) thread_.join();
  }
  GatedCall(const GatedCall&) = delete;
  GatedCall& operator=(const GatedCall&) = delete;

  // Whether the call has passed after `wait`.
  bool PassedAfter(std::chrono::milliseconds wait) {
    std::this_thread::sleep_for(wait);
    return passed_.load();
  }
  // Waits for the call, which must have passed.
  void Join() {
    thread_.join();
    CHECK(passed_.load());
  }

 private:
  std::atomic<bool> passed_{false};  // before thread_: the thread writes it
  std::thread thread_;
};

// Records the protection each page of a fake mapping ends up with, and every call.
class FakeProtector final : public PageProtector {
 public:
  void Protect(uint64_t first, uint64_t count, Access access) override {
    std::lock_guard lock(mutex_);
    ++calls_;
    for (uint64_t p = first; p < first + count; ++p) pages_[p] = access;
  }
  Access Of(uint64_t page) {
    std::lock_guard lock(mutex_);
    const auto it = pages_.find(page);
    return it == pages_.end() ? Access::kWrite : it->second;  // untouched: the mapping's read-write
  }
  uint64_t calls() {
    std::lock_guard lock(mutex_);
    return calls_;
  }

 private:
  std::mutex mutex_;
  std::map<uint64_t, Access> pages_;
  uint64_t calls_ = 0;
};

kvm_regs Registers() {
  kvm_regs r{};
  r.rip = 0x100000;
  r.rax = 1;
  r.rbx = 0x200ff8;
  r.rsp = 0x300010;
  r.rsi = 0x400000;
  r.rdi = 0x500000;
  return r;
}

std::vector<MemoryAccess> Decode(std::vector<uint8_t> bytes, kvm_sregs sregs = {}) {
  std::string error;
  const auto decoded = AccessDecoder().Decode(bytes, Registers(), sregs, error);
  CHECK(decoded.has_value());
  return decoded ? decoded->accesses : std::vector<MemoryAccess>{};
}

TEST(TestDecoder, "decoder: a store, a push, a locked add, movs, FS- and rip-relative operands, the fetch first") {
  // mov [rbx], rax
  auto a = Decode({0x48, 0x89, 0x03});
  CHECK(a.size() == 2 && a[0] == (MemoryAccess{0x100000, 3, false}) && a[1] == (MemoryAccess{0x200ff8, 8, true}));
  // push rax: 8 bytes below rsp; call: the same; pop: at rsp
  a = Decode({0x50});
  CHECK(a.size() == 2 && a[1] == (MemoryAccess{0x300008, 8, true}));
  a = Decode({0xe8, 0x00, 0x00, 0x00, 0x00});
  CHECK(a.size() == 2 && a[1] == (MemoryAccess{0x300008, 8, true}));
  a = Decode({0x58});
  CHECK(a.size() == 2 && a[1] == (MemoryAccess{0x300010, 8, false}));
  // lock xadd [rdi], rax: read and written
  a = Decode({0xf0, 0x48, 0x0f, 0xc1, 0x07});
  CHECK(a.size() == 2 && a[1] == (MemoryAccess{0x500000, 8, true}));
  // movsq: reads [rsi], writes [rdi]
  a = Decode({0x48, 0xa5});
  bool reads_rsi = false, writes_rdi = false;
  for (const MemoryAccess& m : a) {
    reads_rsi = reads_rsi || (m.address == 0x400000 && !m.write);
    writes_rdi = writes_rdi || (m.address == 0x500000 && m.write);
  }
  CHECK(reads_rsi && writes_rdi);
  // mov rax, fs:[8], with FS.base 0x600000
  kvm_sregs sregs{};
  sregs.fs.base = 0x600000;
  a = Decode({0x64, 0x48, 0x8b, 0x04, 0x25, 0x08, 0x00, 0x00, 0x00}, sregs);
  CHECK(a.size() == 2 && a[1] == (MemoryAccess{0x600008, 8, false}));
  // mov rax, [rip + 0x10]: after the 7-byte instruction
  a = Decode({0x48, 0x8b, 0x05, 0x10, 0x00, 0x00, 0x00});
  CHECK(a.size() == 2 && a[1] == (MemoryAccess{0x100000 + 7 + 0x10, 8, false}));
  // lea touches nothing
  a = Decode({0x48, 0x8d, 0x03});
  CHECK(a.size() == 1);
  std::string error;
  const std::vector<uint8_t> junk = {0x0f, 0xff};
  CHECK(!AccessDecoder().Decode(junk, Registers(), {}, error).has_value() && error.find("rip 0x100000") != std::string::npos);
}

TEST(TestPagesTouched, "pages touched: an access across a page boundary is two pages, writes win, nothing below the image or past RAM") {
  const crew::PageGeometry g(0, 16 << 20, 4096);
  const std::vector<MemoryAccess> accesses = {{0x200ffc, 8, false}, {0x201000, 4, true}, {0x1000, 8, true}, {(16 << 20) - 4, 8, true}};
  const auto pages = PagesTouched(g, accesses, 0x100000, 16 << 20);
  CHECK(pages.size() == 3);
  CHECK(pages[0] == (PageAccess{0x200, false}) && pages[1] == (PageAccess{0x201, true}) && pages[2] == (PageAccess{0xfff, true}));
}

TEST(TestPendingRights, "pending rights: the last change per page counts, neighbours with the same access are one protect call") {
  PendingRights pending;
  FakeProtector protector;
  pending.Note(5, Access::kRead);
  pending.Note(6, Access::kRead);
  pending.Note(7, Access::kWrite);
  pending.Note(7, Access::kRead);  // later: wins
  pending.Note(9, Access::kNone);
  CHECK(pending.Apply(protector) == 2);  // [5, 8) read, 9 none
  CHECK(protector.Of(5) == Access::kRead && protector.Of(7) == Access::kRead && protector.Of(9) == Access::kNone);
  CHECK(pending.Apply(protector) == 0);
}

// Two vCPUs over 4 MiB of RAM: image from 1 MiB, code below 0x102000, hart areas at
// 0x200000. `along`: pages granted along each stop (the protocol's tests take none).
CrewLayout TwoVcpus(uint32_t along = 0) {
  CrewLayout layout{2, 4 << 20, 4096, 0x100000, 0x102000, 0x200000, 0x26000};
  layout.along = along;
  return layout;
}

struct Recorded {
  std::mutex mutex;
  std::vector<crew::TransferEdge> edges;
  std::vector<replay::CrewFaultRecord> faults;
};

std::unique_ptr<CrewRecording> Recording(FakeProtector& p0, FakeProtector& p1, Recorded& out, uint32_t along = 0) {
  return std::make_unique<CrewRecording>(
      TwoVcpus(along), std::vector<PageProtector*>{&p0, &p1},
      [&out](const crew::TransferEdge& e) {
        std::lock_guard lock(out.mutex);
        out.edges.push_back(e);
      },
      [&out](const replay::CrewFaultRecord& f) {
        std::lock_guard lock(out.mutex);
        out.faults.push_back(f);
      });
}

TEST(TestRecordingStart, "recording starts the same every time: code readable by all, each hart area its own, the rest protected") {
  FakeProtector p0, p1;
  Recorded out;
  auto crew = Recording(p0, p1, out);
  CHECK(p0.Of(0x100) == Access::kRead && p1.Of(0x101) == Access::kRead);   // code
  CHECK(p0.Of(0x102) == Access::kNone && p1.Of(0x3ff) == Access::kNone);   // data, the rest of RAM
  CHECK(p0.Of(0x200) == Access::kWrite && p1.Of(0x200) == Access::kNone);  // hart 0's area
  CHECK(p1.Of(0x226) == Access::kWrite && p0.Of(0x226) == Access::kNone);  // hart 1's
  CHECK(p0.Of(0x50) == Access::kWrite);                                    // the VMM's low memory: untouched
  CHECK(out.edges.empty());
}

TEST(TestRecordingLandmarks, "a running holder gives a page up only at a landmark of its own; the edge and the fault record say so") {
  FakeProtector p0, p1;
  Recorded out;
  auto crew = Recording(p0, p1, out);
  const PageAccess page{0x300, true};
  // vCPU 0 faults on an unheld page at its landmark 4: granted at once, no edge.
  CHECK(crew->AtFault(0, 4, std::span(&page, 1), false));
  crew->BeforeRun(0, 4);
  CHECK(p0.Of(0x300) == Access::kWrite);
  // vCPU 1 faults on it at its landmark 7 while vCPU 0 runs: it waits.
  GatedCall one([&] { return crew->AtFault(1, 7, std::span(&page, 1), false); });
  CHECK(!one.PassedAfter(std::chrono::milliseconds(50)));
  // vCPU 0 reaches its exit at landmark 9: it yields there.
  crew->AtExit(0, 9);
  one.Join();
  crew->BeforeRun(0, 9);
  crew->BeforeRun(1, 7);
  CHECK(p0.Of(0x300) == Access::kNone && p1.Of(0x300) == Access::kWrite);
  CHECK(out.edges.size() == 1 && out.edges[0] == (crew::TransferEdge{0x300, 0, 9, 1, 7}));
  CHECK(out.faults.size() == 2);
  CHECK(out.faults[0].at.vcpu == 0 && out.faults[0].at.count == 4 && out.faults[0].edges == 0 && out.faults[0].write);
  CHECK(out.faults[1].at.vcpu == 1 && out.faults[1].at.count == 7 && out.faults[1].edges == 1);
}

TEST(TestRecordingParked, "a spin-waiting or finished holder gives pages up at once; a stop that ends a vCPU still logs its fault") {
  FakeProtector p0, p1;
  Recorded out;
  auto crew = Recording(p0, p1, out);
  const PageAccess read{0x300, false};
  CHECK(crew->AtFault(0, 2, std::span(&read, 1), false));
  crew->Finished(0, 5);  // vCPU 0 parked for good at 5
  const PageAccess write{0x300, true};
  CHECK(crew->AtFault(1, 3, std::span(&write, 1), false));
  CHECK(out.edges.size() == 1 && out.edges[0] == (crew::TransferEdge{0x300, 0, 5, 1, 3}));
  const PageAccess other{0x301, true};
  CHECK(!crew->AtFault(1, 8, std::span(&other, 1), true));  // stops here
  CHECK(out.faults.back().at.count == 8 && out.faults.back().page == 0x301 && out.faults.back().edges == 0);
  CHECK(crew->Protects(1, std::span(&other, 1)) && !crew->Protects(1, std::span(&write, 1)));
}

TEST(TestRecordingHalted, "a halted holder gives its pages up at once, at its halt; it polls again when it goes on") {
  FakeProtector p0, p1;
  Recorded out;
  auto crew = Recording(p0, p1, out);
  const PageAccess page{0x300, true};
  CHECK(crew->AtFault(0, 2, std::span(&page, 1), false));
  std::atomic<bool> halted{false};
  std::atomic<bool> resume{false};
  std::thread zero([&] {
    crew->Halted(0, 6, [&] {
      halted = true;
      while (!resume.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    });
  });
  while (!halted.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  CHECK(crew->AtFault(1, 3, std::span(&page, 1), false));  // granted while vCPU 0 still halts
  resume = true;
  zero.join();
  CHECK(out.edges.size() == 1 && out.edges[0] == (crew::TransferEdge{0x300, 0, 6, 1, 3}));
  crew->BeforeRun(0, 6);
  CHECK(p0.Of(0x300) == Access::kNone);
}

template <typename F>
std::string DivergenceOf(F&& f) {
  try {
    f();
  } catch (const replay::Divergence& d) {
    return d.what + ": expected " + d.expected + ", got " + d.actual;
  }
  return "";
}

TEST(TestRecordingAlong, "pages along a stop: untouched ones with a first touch, a stopped holder's with a transfer, never a hart area; the fault record counts their edges") {
  FakeProtector p0, p1;
  Recorded out;
  auto crew = Recording(p0, p1, out, 15);
  // A first touch at 0x1f8 takes 0x1f9..0x1ff along and stops at hart 0's area (0x200).
  const PageAccess first{0x1f8, true};
  CHECK(crew->AtFault(0, 4, std::span(&first, 1), false));
  crew->BeforeRun(0, 4);
  CHECK(p0.Of(0x1f8) == Access::kWrite && p0.Of(0x1ff) == Access::kWrite);
  CHECK(crew->Permissions(1).Get(0x200) == Access::kNone && crew->Permissions(0).Get(0x200) == Access::kWrite);
  CHECK(out.edges.empty() && out.faults.size() == 1 && out.faults[0].edges == 0);
  // vCPU 0 spin-waits at 6 (parked): vCPU 1's read of 0x1f8 takes 0x1f9..0x1ff along, one
  // edge each from 0@6, all counted by its fault record; vCPU 0 keeps read.
  std::atomic<bool> parked{false};
  std::thread zero([&] {
    crew->Halted(0, 6, [&] {
      parked = true;
      while (crew->Permissions(1).Get(0x1ff) != Access::kRead) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    });
  });
  while (!parked.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  const PageAccess read{0x1f8, false};
  CHECK(crew->AtFault(1, 3, std::span(&read, 1), false));
  zero.join();
  crew->BeforeRun(0, 6);
  crew->BeforeRun(1, 3);
  CHECK(p1.Of(0x1f9) == Access::kRead && p1.Of(0x1ff) == Access::kRead && p1.Of(0x200) == Access::kNone);
  CHECK(p0.Of(0x1f9) == Access::kRead);
  CHECK(out.edges.size() == 8 && out.edges.back() == (crew::TransferEdge{0x1ff, 0, 6, 1, 3}));
  CHECK(out.faults.size() == 2 && out.faults[1].page == 0x1f8 && out.faults[1].edges == 8);
  // Replay compares the sum with the edges into the stop: one missing is a divergence.
  std::vector<replay::CrewTransferRecord> edges;
  for (const crew::TransferEdge& e : out.edges) edges.push_back({e.page, {e.from_vcpu, e.from_count}, {e.to_vcpu, e.to_count}});
  const std::vector<replay::CrewFaultRecord> faults(out.faults.begin(), out.faults.end());
  FakeProtector r0, r1;
  const auto whole = ReplayOf(edges, faults, {&r0, &r1}, std::chrono::milliseconds(200));
  whole->AtExit(0, 6);  // vCPU 0 has passed 6
  CHECK(whole->AtFault(1, 3, std::span(&read, 1), false));
  edges.erase(edges.begin() + 3);
  FakeProtector q0, q1;
  const auto damaged = ReplayOf(edges, faults, {&q0, &q1}, std::chrono::milliseconds(200));
  CHECK(DivergenceOf([&] { damaged->AtFault(1, 3, std::span(&read, 1), false); }).find("transfer edges: expected 8 into") == 0);
}

TEST(TestRecordingSweep, "a stop where its previous stop's pages ended asks for twice as many along; any other stop for the base again") {
  FakeProtector p0, p1;
  Recorded out;
  auto crew = Recording(p0, p1, out, 15);
  // vCPU `v` stops on `page` at `count`: how many pages from there it holds with that access.
  const auto stop_at = [&](uint32_t v, uint64_t count, uint64_t page, bool write) {
    const PageAccess access{page, write};
    CHECK(crew->AtFault(v, count, std::span(&access, 1), false));
    uint64_t end = page;
    while (end < 0x400 && crew->Permissions(v).Allows(end, write)) ++end;
    return end - page;
  };
  CHECK(stop_at(0, 1, 0x250, true) == 16);  // the base: 15 along
  CHECK(stop_at(0, 2, 0x260, true) == 32);  // right where those ended: 31 along
  CHECK(stop_at(0, 3, 0x280, true) == 64);
  CHECK(stop_at(0, 4, 0x300, true) == 16);  // elsewhere: the base again
  CHECK(stop_at(0, 5, 0x310, true) == 32);
  CHECK(stop_at(0, 6, 0x330, true) == 64);
  CHECK(stop_at(0, 7, 0x370, true) == 128);
  CHECK(stop_at(0, 8, 0x3f0, true) == 16);  // 255 along at most, and never into the console page (0x400)
  // A read sweep of those pages by vCPU 1 while vCPU 0 is finished: the same growth.
  crew->Finished(0, 9);
  CHECK(stop_at(1, 1, 0x250, false) == 16);
  CHECK(stop_at(1, 2, 0x260, false) == 32);
  CHECK(stop_at(1, 3, 0x280, false) == 64);
  CHECK(out.faults.size() == 11 && out.faults.back().edges == 64);  // one edge per page from 0@9
}

TEST(TestReplayFollows, "replay protects a recorded fault's page just before it, checks the stop and its edges, waits at the gate") {
  FakeProtector p0, p1;
  const std::vector<replay::CrewTransferRecord> edges = {{0x300, {0, 9}, {1, 7}}};
  const std::vector<replay::CrewFaultRecord> faults = {{{0, 4}, 0x300, true, 0}, {{1, 7}, 0x300, true, 1}};
  const auto owned = ReplayOf(edges, faults, {&p0, &p1}, std::chrono::milliseconds(2000));
  CrewReplay& replay = *owned;
  replay.BeforeRun(0, 2);
  CHECK(p0.Of(0x300) == Access::kWrite);  // not yet: the fault is at 4
  replay.BeforeRun(0, 3);
  CHECK(p0.Of(0x300) == Access::kRead);  // a write fault: reads still pass
  const PageAccess page{0x300, true};
  CHECK(replay.AtFault(0, 4, std::span(&page, 1), false));
  CHECK(p0.Of(0x300) == Access::kWrite);
  replay.BeforeRun(1, 6);
  GatedCall one([&] { return replay.AtFault(1, 7, std::span(&page, 1), false); });
  CHECK(!one.PassedAfter(std::chrono::milliseconds(50)));  // vCPU 0 has not reached 9
  replay.AtExit(0, 8);
  CHECK(!one.PassedAfter(std::chrono::milliseconds(20)));
  replay.AtExit(0, 9);
  one.Join();
}

TEST(TestReplayDivergences, "replay: an exit where a fault was recorded, another page, and a missing edge are divergences") {
  FakeProtector p0, p1;
  const std::vector<replay::CrewFaultRecord> faults = {{{0, 4}, 0x300, true, 1}};
  const auto owned = ReplayOf({}, faults, {&p0, &p1}, std::chrono::milliseconds(200));
  CrewReplay& replay = *owned;
  CHECK(DivergenceOf([&] { replay.AtExit(0, 4); }).find("CREW fault") == 0);
  const PageAccess other{0x301, true};
  CHECK(DivergenceOf([&] { replay.AtFault(0, 4, std::span(&other, 1), false); }).find("CREW fault") == 0);
  const PageAccess page{0x300, true};
  const std::string missing = DivergenceOf([&] { replay.AtFault(0, 4, std::span(&page, 1), false); });
  CHECK(missing.find("transfer edges: expected 1 into") == 0);
  CHECK(DivergenceOf([&] { replay.AtFault(1, 2, std::span(&page, 1), false); }).find("CREW fault: expected no more stops") == 0);
}

// What AddEdge/AddFault throw, or "" (the log's damage, as the replay meets it).
template <typename F>
std::string RefusalOf(F&& f) {
  try {
    f();
  } catch (const replay::UnreplayableLog& e) {
    return e.what();
  }
  return "";
}

TEST(TestReplayStreams, "replay follows edges and faults as the log is read, forgets them once followed, and refuses records no recording writes") {
  FakeProtector p0, p1;
  CrewReplay replay(2, crew::PageGeometry(0, (4 << 20) + 4096, 4096), {&p0, &p1}, crew::ReplayGate::Options{std::chrono::milliseconds(2000)});
  replay.AddFault({{1, 5}, 0x300, true, 1});
  CHECK(replay.Pending() == 1);
  replay.BeforeRun(1, 3);
  CHECK(p1.Of(0x300) == Access::kWrite);  // not yet: the stop is at 5
  replay.BeforeRun(1, 4);
  CHECK(p1.Of(0x300) == Access::kRead);
  // The edge into the stop arrives later, read by another vCPU's thread.
  std::thread reader([&] { replay.AddEdge({0x300, {0, 3}, {1, 5}}); });
  reader.join();
  CHECK(replay.Pending() == 2);
  const PageAccess page{0x300, true};
  GatedCall one([&] { return replay.AtFault(1, 5, std::span(&page, 1), false); });
  CHECK(!one.PassedAfter(std::chrono::milliseconds(50)));  // vCPU 0 has not reached 3
  replay.AtExit(0, 3);
  one.Join();
  CHECK(replay.Pending() == 0);
  CHECK(p1.Of(0x300) == Access::kWrite);
  CHECK(RefusalOf([&] { replay.AddEdge({0x300, {1, 2}, {1, 9}}); }).find("CREW log: edge from a vCPU to itself") == 0);
  CHECK(RefusalOf([&] { replay.AddFault({{2, 1}, 0x300, false, 0}); }).find("CREW log: a fault of vcpu 2 on a machine of 2 vCPUs") == 0);
  replay.AddFault({{0, 9}, 0x301, false, 0});
  CHECK(RefusalOf([&] { replay.AddFault({{0, 8}, 0x302, false, 0}); }).find("CREW log: vcpu 0's faults out of order (@ 8 after @ 9)") == 0);
}

TEST(TestReplayCut, "a cut drops the stops and edge counts read before it at its landmarks; edges into a last landmark with no stop take their pages away") {
  FakeProtector p0, p1;
  CrewReplay replay(2, crew::PageGeometry(0, (4 << 20) + 4096, 4096), {&p0, &p1}, crew::ReplayGate::Options{std::chrono::milliseconds(2000)});
  // Copied from a log cut short: two edges into vCPU 1's stop at 5 and its record.
  replay.AddEdge({0x300, {0, 3}, {1, 5}});
  replay.AddEdge({0x301, {0, 3}, {1, 5}});
  replay.AddFault({{1, 5}, 0x300, true, 2});
  CHECK(replay.Pending() == 3);
  replay.Cut({UINT64_MAX, 5});
  CHECK(replay.Pending() == 2);  // the stop is dropped; the edges stay at the gate
  // The stop made again live after the cut, at the same landmark, brought no edge.
  replay.AddFault({{1, 5}, 0x300, true, 0});
  replay.BeforeRun(1, 4);
  CHECK(p1.Of(0x300) == Access::kRead);
  replay.AtExit(0, 3);
  const PageAccess page{0x300, true};
  CHECK(replay.AtFault(1, 5, std::span(&page, 1), false));
  // A log that ends with edges into vCPU 1's landmark 9 and no stop there (its record lost).
  replay.AddEdge({0x310, {0, 4}, {1, 9}});
  replay.AddEdge({0x311, {0, 4}, {1, 9}});
  replay.AddEdge({1024, {0, 4}, {1, 9}});  // the page that stands for the console: not in the mapping
  replay.ArmEdgesInto(1, 9);
  CHECK(p1.Of(0x310) == Access::kNone && p1.Of(0x311) == Access::kNone && p1.Of(1024) == Access::kWrite);
  CHECK(replay.ArmedStop(1).size() == 2);
  const PageAccess read{0x311, false};
  CHECK(replay.Protects(1, std::span(&read, 1)));
  CHECK(replay.ArmedStop(0).empty());
}

}  // namespace
}  // namespace rrkit::kvm

int main(int argc, char** argv) { return rrkit::testing::RunTests(argc, argv); }
