// The engine-neutral parts of a machine (native/machine/), each on its own: the MMIO bus,
// the cut schedule for live and logged runs, the consistent-cut barrier, the stop protocol,
// the deadline timer and the wall-clock samples, driven by plain threads and a recorded log.
#include <atomic>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <thread>
#include <vector>

#include "machine/consistent_cut.h"
#include "machine/cut_schedule.h"
#include "machine/deadline_timer.h"
#include "machine/host_time_samples.h"
#include "machine/mmio_bus.h"
#include "machine/stop_protocol.h"
#include "replay/chunk_sink.h"
#include "replay/log_reader.h"
#include "replay/log_writer.h"
#include "replay/recording_world.h"
#include "replay/replaying_world.h"
#include "tools/test_harness.h"

using namespace rrkit;
using machine::Outcome;
using replay::kNever;

namespace {

// A device that remembers its last access.
struct Register final : machine::Device {
  uint64_t offset = ~uint64_t{0};
  uint64_t value = 0;
  replay::Landmark at;
  uint64_t Read(uint64_t o, unsigned, replay::Landmark a) override {
    offset = o;
    at = a;
    return value;
  }
  void Write(uint64_t o, unsigned, uint64_t v, replay::Landmark a) override {
    offset = o;
    value = v;
    at = a;
  }
};

TEST(TestBusOffsets, "bus: a device sees offsets from its base and the accessing landmark; edges are exact") {
  Register a, b;
  machine::MmioBus bus;
  bus.Map(0x1000, 0x100, a);
  bus.Map(0x2000, 0x10, b);
  CHECK(bus.Store({1, 42}, 0x10ff, 8, 7));
  CHECK(a.offset == 0xff && a.value == 7 && a.at.vcpu == 1 && a.at.count == 42);
  uint64_t v = 0;
  CHECK(bus.Load({0, 1}, 0x2000, 4, v) && b.offset == 0);
  CHECK(!bus.Load({0, 1}, 0x1100, 4, v) && !bus.Load({0, 1}, 0x0fff, 4, v) && !bus.Store({0, 1}, 0x2010, 4, v));
  bool refused = false;
  try {
    bus.Map(0x10f0, 0x20, b);
  } catch (const std::invalid_argument&) {
    refused = true;
  }
  CHECK(refused);
}

TEST(TestLiveCutSchedule, "cut schedule, live: vCPU 0 starts a cut every interval, the others join when asked") {
  machine::CutSchedule cuts(3, 1000);
  CHECK(cuts.next(0) == 1000 && cuts.next(1) == kNever && cuts.next(2) == kNever);
  CHECK(cuts.Reached(0));
  CHECK(cuts.next(0) == 2000);
  cuts.Completed();
  CHECK(cuts.next(0) == 2000 && cuts.next(1) == kNever);
  machine::CutSchedule none(2, 0);
  CHECK(none.next(0) == kNever);
}

// A replay of a log whose checkpoints fall at the given landmarks of two vCPUs, already
// read to its end (a replay reads it as the vCPUs reach it: CutSchedule::Refresh).
std::unique_ptr<replay::ReplayingWorld> LogWithCheckpoints(const std::vector<std::vector<uint64_t>>& cuts) {
  auto sink = std::make_shared<replay::MemoryChunkSink>();
  {
    replay::LogHeader header;
    header.engine = "emu";
    header.vcpus = 2;
    replay::LogWriter writer(header, sink);
    for (const auto& counts : cuts) {
      replay::Checkpoint c;
      for (uint32_t v = 0; v < counts.size(); ++v) c.vcpus.push_back({{v, counts[v]}, v});
      writer.Append(replay::CheckpointRecord{c});
    }
    writer.Close();
  }
  auto world = std::make_unique<replay::ReplayingWorld>(
      std::make_unique<replay::LogReader>(std::make_unique<replay::MemoryChunkSource>(sink->bytes())));
  world->Advance(0, kNever - 1);
  return world;
}

TEST(TestLoggedCutSchedule, "cut schedule, replay: every vCPU at its logged landmark, then the next checkpoint, then none") {
  auto replaying = LogWithCheckpoints({{100, 250}, {300, 400}});
  replay::ReplayingWorld& world = *replaying;
  machine::CutSchedule cuts(2, world);
  CHECK(cuts.next(0) == 100 && cuts.next(1) == 250);
  CHECK(!cuts.Reached(1));  // nobody starts a logged cut: each vCPU comes by its count
  world.CheckpointTaken(*world.ScheduledCheckpoint());
  cuts.Completed();
  CHECK(cuts.next(0) == 300 && cuts.next(1) == 400);
  world.CheckpointTaken(*world.ScheduledCheckpoint());
  cuts.Completed();
  CHECK(cuts.next(0) == kNever && cuts.next(1) == kNever);
}

TEST(TestLoggedCutScheduleMismatch, "cut schedule, replay: a checkpoint for another vCPU count is refused") {
  auto replaying = LogWithCheckpoints({{100, 250}});
  replay::ReplayingWorld& world = *replaying;
  bool refused = false;
  try {
    machine::CutSchedule cuts(3, world);
  } catch (const std::invalid_argument& e) {
    refused = std::string(e.what()) == "a scheduled checkpoint names 2 vCPUs; the machine has 3";
  }
  CHECK(refused);
}

TEST(TestConsistentCut, "consistent cut: the last to arrive works while every other vCPU waits; then all go on") {
  constexpr uint32_t kVcpus = 4;
  constexpr int kCuts = 50;
  machine::ConsistentCut cut(kVcpus);
  std::atomic<int> inside{0};
  std::atomic<int> works{0};
  std::atomic<bool> overlap{false};
  std::vector<std::thread> threads;
  for (uint32_t v = 0; v < kVcpus; ++v) {
    threads.emplace_back([&] {
      for (int i = 0; i < kCuts; ++i) {
        ++inside;
        cut.Arrive([&] {
          if (inside.load() != static_cast<int>(kVcpus)) overlap = true;  // someone left early
          ++works;
        });
        --inside;
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(works.load() == kCuts);
  CHECK(!overlap.load());
  CHECK(cut.completed() == kCuts);
}

TEST(TestConsistentCutCancel, "consistent cut: cancelling releases vCPUs waiting for one that never comes") {
  machine::ConsistentCut cut(2);
  std::atomic<bool> released{false};
  std::thread waiter([&] {
    cut.Arrive([] {});
    released = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  CHECK(!released.load());
  cut.Cancel();
  waiter.join();
  CHECK(released.load() && cut.completed() == 0);
}

TEST(TestStopFirstWins, "stop protocol: the first stop wins, wakes everything once, and later ones change nothing") {
  int wakes = 0;
  machine::StopProtocol stop([&] { ++wakes; }, "exit");
  CHECK(!stop.stopping());
  stop.Stop(Outcome::kFault, "hart 0: illegal instruction");
  stop.Stop(Outcome::kTimeout, "late");
  stop.Diverged(replay::Divergence{{1, 5}, "input kind", "clock", "entropy"});
  CHECK(stop.stopping() && wakes == 1);
  CHECK(stop.outcome() == Outcome::kFault && stop.error() == "hart 0: illegal instruction");
  CHECK(!stop.divergence().has_value());
}

TEST(TestStopDivergence, "stop protocol: a divergence keeps the first report and its one line") {
  machine::StopProtocol stop([] {}, "exit");
  stop.Diverged(replay::Divergence{{1, 5}, "input kind", "clock", "entropy"});
  stop.Diverged(replay::Divergence{{0, 9}, "memory hash", "a", "b"});
  CHECK(stop.outcome() == Outcome::kDiverged);
  CHECK(stop.divergence().has_value() && stop.divergence()->at.vcpu == 1);
  CHECK(stop.error() == "replay diverged at vcpu 1 @ exit 5: input kind: expected clock, actual entropy");
}

TEST(TestStopExitAndFinish, "stop protocol: the first exit request counts; finished vCPUs are counted") {
  machine::StopProtocol stop([] {}, "instruction");
  CHECK(stop.RecordExit({1, 10}, 3));
  CHECK(!stop.RecordExit({0, 20}, 4));
  CHECK(stop.exit().has_value() && stop.exit()->at.vcpu == 1 && stop.exit()->code == 3);
  CHECK(stop.VcpuFinished() == 1 && stop.VcpuFinished() == 2);
  CHECK(!stop.stopping());
}

TEST(TestStopTimeout, "stop protocol: waiting for vCPU threads stops the run at the timeout, then waits for them") {
  std::atomic<bool> woken{false};
  machine::StopProtocol stop([&] { woken = true; }, "instruction");
  std::thread vcpu([&] {
    while (!woken.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    stop.ThreadEnded();
  });
  stop.WaitForThreads(1, std::chrono::milliseconds(30));
  vcpu.join();
  CHECK(stop.outcome() == Outcome::kTimeout);
  CHECK(stop.error().find("timeout") != std::string::npos);
}

TEST(TestDeadlineTimer, "deadline timer: fires once per arming after the deadline, never for 'never', again when re-armed") {
  using Clock = machine::DeadlineTimer::Clock;
  std::atomic<int64_t> due_ms[2] = {-1, -1};  // -1: never
  std::atomic<int> fired[2] = {0, 0};
  const auto start = Clock::now();
  machine::DeadlineTimer timer(
      2,
      [&](uint32_t v) {
        const int64_t ms = due_ms[v].load();
        return ms < 0 ? Clock::time_point::max() : start + std::chrono::milliseconds(ms);
      },
      [&](uint32_t v) { ++fired[v]; });
  due_ms[0] = 10;
  timer.Start();
  auto wait_for = [&](uint32_t v, int count) {
    for (int i = 0; i < 2000 && fired[v].load() < count; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  };
  wait_for(0, 1);
  CHECK(fired[0].load() == 1);
  CHECK(Clock::now() - start >= std::chrono::milliseconds(10));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  CHECK(fired[0].load() == 1 && fired[1].load() == 0);  // once per arming; "never" never
  due_ms[1] = 0;
  timer.Rearm(1);
  wait_for(1, 1);
  CHECK(fired[1].load() == 1);
  timer.Rearm(0);  // the same, already passed deadline: due again at once
  wait_for(0, 2);
  CHECK(fired[0].load() == 2);
  timer.Stop();
  timer.Stop();
}

TEST(TestGuestEntrySamples, "wall-clock samples without a ticker: at the start, when due, around a long stretch in the guest; stalls") {
  using replay::VcpuActivity;
  std::vector<replay::HostTimeRecord> got;
  // A long period: only the stretch slept through below lasts it; everything else is far shorter.
  machine::HostTimeSamples samples([&](const replay::HostTimeRecord& r) { got.push_back(r); }, std::chrono::milliseconds(200), nullptr);
  samples.Start();
  machine::HostTimeSamples::GuestEntries entries(&samples, {0, 0});
  CHECK(got.size() == 1 && got[0].at.count == 0 && got[0].activity == VcpuActivity::kRunning);
  entries.Entering({0, 0});
  entries.Exited({0, 1});  // a short stretch, not due: nothing
  entries.Entering({0, 1});
  entries.Exited({0, 2});
  CHECK(got.size() == 1);
  entries.Entering({0, 2});
  std::this_thread::sleep_for(std::chrono::milliseconds(250));
  entries.Exited({0, 3});  // the stretch from exit 2 to exit 3: a sample at each end
  CHECK(got.size() == 3);
  CHECK(got[1].at.count == 2 && got[2].at.count == 3);
  CHECK(got[2].ns - got[1].ns >= 250'000'000);
  {
    const machine::HostTimeSamples::Stall cut(&samples, {0, 3}, VcpuActivity::kCut);
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  CHECK(got.size() == 5 && got[3].activity == VcpuActivity::kCut && got[4].activity == VcpuActivity::kRunning);
  CHECK(got[3].at.count == 3 && got[4].at.count == 3 && got[4].ns > got[3].ns);
  // A vCPU's samples never go back in time or in landmarks.
  for (size_t i = 1; i < got.size(); ++i) CHECK(got[i].ns >= got[i - 1].ns && got[i].at.count >= got[i - 1].at.count);
  // Without samples (no --wall-samples) nothing is logged and no clock is needed.
  machine::HostTimeSamples::GuestEntries none(nullptr, {0, 0});
  none.Entering({0, 0});
  none.Exited({0, 1});
  samples.Stop();
  CHECK(got.size() == 5);
}

}  // namespace

int main(int argc, char** argv) { return rrkit::testing::RunTests(argc, argv); }
