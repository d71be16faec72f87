// The emu board's devices with no machine around them (Firecracker's test_handle_kvm_exit
// is the model): made-up accesses go in through the MMIO bus, at made-up landmarks, and
// what comes out is checked — console bytes, the machine's board events, and every value
// the devices take from the World. A World that watches its callers proves that replay
// feeds the logged values and never calls the live source.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "emu/board.h"
#include "emu/memory_map.h"
#include "replay/chunk_sink.h"
#include "replay/log_reader.h"
#include "replay/log_writer.h"
#include "replay/recording_world.h"
#include "replay/replaying_world.h"
#include "tools/test_harness.h"

using namespace rrkit;
using replay::InputKind;
using replay::Landmark;

namespace {

// What the board told the machine.
struct RecordedEvents final : emu::BoardEvents {
  std::vector<uint32_t> software;
  std::vector<uint32_t> timer;
  std::vector<std::pair<Landmark, int>> exits;
  void SoftwareInterruptChanged(uint32_t hart) override { software.push_back(hart); }
  void TimerCompareChanged(uint32_t hart) override { timer.push_back(hart); }
  void ExitRequested(Landmark at, int code) override { exits.push_back({at, code}); }
};

// Wraps another World and notes every value a device asked it for, and whether the world
// called the device's live source for it.
class WatchingWorld final : public replay::World {
 public:
  struct Asked {
    Landmark at;
    InputKind kind;
    uint64_t value;
  };
  explicit WatchingWorld(replay::World& inner) : inner_(inner) {}

  uint64_t Input(Landmark at, InputKind kind, const std::function<uint64_t()>& live) override {
    const uint64_t value = inner_.Input(at, kind, [&] {
      ++live_calls;
      return live();
    });
    asked.push_back({at, kind, value});
    return value;
  }
  uint64_t RareOutcome(Landmark at, InputKind kind, uint64_t usual, const std::function<uint64_t()>& live) override {
    return inner_.RareOutcome(at, kind, usual, [&] {
      ++live_calls;
      return live();
    });
  }
  bool DeliversLiveInterrupts() const override { return inner_.DeliversLiveInterrupts(); }
  void InterruptTaken(Landmark at, uint64_t cause) override { inner_.InterruptTaken(at, cause); }
  std::optional<Scheduled> ScheduledInterrupt(uint32_t vcpu) override { return inner_.ScheduledInterrupt(vcpu); }
  std::optional<replay::Checkpoint> ScheduledCheckpoint() override { return inner_.ScheduledCheckpoint(); }
  void CheckpointTaken(const replay::Checkpoint& c) override { inner_.CheckpointTaken(c); }
  void MachineStopped(Landmark at, int code, const replay::Checkpoint& state, const replay::OutputDigest& output) override {
    inner_.MachineStopped(at, code, state, output);
  }
  std::optional<std::vector<uint64_t>> FinalLandmarks() override { return inner_.FinalLandmarks(); }

  std::vector<Asked> asked;
  int live_calls = 0;

 private:
  replay::World& inner_;
};

// A board of `harts` harts whose console output is captured and whose input is `input`.
struct TestBoard {
  TestBoard(uint32_t harts, replay::World& world, std::string input = "")
      : board(harts, world, events, machine::ConsoleOutput::Mode::kCapture,
              machine::ConsoleInput::FromBytes(std::vector<uint8_t>(input.begin(), input.end()))) {}

  uint64_t Load(uint64_t addr, unsigned size, Landmark at = {0, 0}) {
    uint64_t value = 0xdeadbeef;
    CHECK(board.bus().Load(at, addr, size, value));
    return value;
  }
  void Store(uint64_t addr, unsigned size, uint64_t value, Landmark at = {0, 0}) {
    CHECK(board.bus().Store(at, addr, size, value));
  }

  RecordedEvents events;
  emu::Board board;
};

// ns16550a registers (offsets from the UART's base).
constexpr uint64_t kThr = emu::kUartBase + 0;
constexpr uint64_t kIer = emu::kUartBase + 1;
constexpr uint64_t kLcr = emu::kUartBase + 3;
constexpr uint64_t kLsr = emu::kUartBase + 5;
constexpr uint64_t kScr = emu::kUartBase + 7;
constexpr uint64_t kMtime = emu::kClintBase + emu::kClintMtimeOffset;
constexpr uint64_t kMtimecmp = emu::kClintBase + emu::kClintMtimecmpOffset;
constexpr uint64_t kMsip = emu::kClintBase + emu::kClintMsipOffset;

TEST(TestBusRouting, "bus: each device answers in its range and nowhere else") {
  replay::LiveWorld live;
  TestBoard t(2, live);
  uint64_t value = 0;
  for (uint64_t addr : {emu::kUartBase, emu::kUartBase + emu::kUartSize - 1, emu::kClintBase,
                        emu::kClintBase + emu::kClintSize - 1, emu::kSystemDeviceBase, emu::kTestFinisherBase})
    CHECK(t.board.bus().Load({0, 0}, addr, 1, value));
  for (uint64_t addr : {uint64_t{0}, emu::kUartBase + emu::kUartSize, emu::kClintBase + emu::kClintSize,
                        emu::kClintBase - 1, emu::kRamBase, emu::kTestFinisherBase + emu::kTestFinisherSize}) {
    CHECK(!t.board.bus().Load({0, 0}, addr, 1, value));
    CHECK(!t.board.bus().Store({0, 0}, addr, 1, 0));
  }
  CHECK(t.events.exits.empty() && t.board.console().Captured().empty());
}

TEST(TestUartTransmit, "UART: transmit goes to the console output byte for byte, digested") {
  replay::LiveWorld live;
  TestBoard t(1, live);
  for (char c : std::string("hi\n")) t.Store(kThr, 1, static_cast<uint8_t>(c));
  CHECK(t.board.console().Captured() == "hi\n");
  const replay::OutputDigest digest = t.board.console().Digest();
  CHECK(digest.bytes == 3);
  uint64_t fnv = 0xcbf29ce484222325ull;
  for (char c : std::string("hi\n")) fnv = (fnv ^ static_cast<uint8_t>(c)) * 0x100000001b3ull;
  CHECK(digest.hash == fnv);
}

TEST(TestUartReceive, "UART: line status and received bytes are world inputs at the reading hart's landmark") {
  replay::LiveWorld live;
  WatchingWorld world(live);
  TestBoard t(2, world, "ab");
  CHECK((t.Load(kLsr, 1, {1, 10}) & 0x61) == 0x61);  // data ready, transmitter empty
  CHECK(t.Load(kThr, 1, {1, 11}) == 'a');
  CHECK(t.Load(kThr, 1, {1, 12}) == 'b');
  CHECK((t.Load(kLsr, 1, {1, 13}) & 0x01) == 0);     // nothing more waiting
  CHECK(t.Load(kThr, 1, {1, 14}) == 0);              // an empty RBR reads 0
  CHECK(world.asked.size() == 5 && world.live_calls == 5);
  if (world.asked.size() == 5) {
    CHECK(world.asked[0].kind == InputKind::kConsoleStatus && world.asked[0].at.vcpu == 1 && world.asked[0].at.count == 10);
    CHECK(world.asked[1].kind == InputKind::kConsoleData && world.asked[1].value == 'a' && world.asked[1].at.count == 11);
    CHECK(world.asked[4].kind == InputKind::kConsoleData && world.asked[4].value == 0);
  }
}

TEST(TestUartConfiguration, "UART: configuration and divisor latch registers read back and ask the world nothing") {
  replay::LiveWorld live;
  WatchingWorld world(live);
  TestBoard t(1, world);
  t.Store(kIer, 1, 0xff);
  CHECK(t.Load(kIer, 1) == 0x0f);  // only the four defined bits
  t.Store(kScr, 1, 0x5a);
  CHECK(t.Load(kScr, 1) == 0x5a);
  t.Store(kLcr, 1, 0x83);  // divisor latch access
  t.Store(kThr, 1, 0x12);  // DLL, not a transmitted byte
  t.Store(kIer, 1, 0x34);  // DLM
  CHECK(t.Load(kThr, 1) == 0x12 && t.Load(kIer, 1) == 0x34);
  t.Store(kLcr, 1, 0x03);
  CHECK(t.Load(kIer, 1) == 0x0f);
  CHECK(t.board.console().Captured().empty());
  CHECK(world.asked.empty());
}

TEST(TestClintRegisters, "CLINT: msip and mtimecmp writes reach the machine as events and read back; mtime is a clock input") {
  replay::LiveWorld live;
  WatchingWorld world(live);
  TestBoard t(4, world);
  t.Store(kMsip + 4 * 2, 4, 1);
  CHECK(t.events.software == std::vector<uint32_t>{2});
  CHECK(t.Load(kMsip + 4 * 2, 4) == 1 && t.Load(kMsip, 4) == 0);
  CHECK(t.board.clint().SoftwarePending(2) && !t.board.clint().SoftwarePending(1));
  t.Store(kMtimecmp + 8 * 3, 8, 0x1122334455667788);
  t.Store(kMtimecmp + 8 * 3 + 4, 4, 0xaabbccdd);  // the upper half alone
  CHECK(t.events.timer == (std::vector<uint32_t>{3, 3}));
  CHECK(t.Load(kMtimecmp + 8 * 3, 8) == 0xaabbccdd55667788);
  CHECK(t.Load(kMtimecmp + 8 * 3, 4) == 0x55667788);
  CHECK(world.asked.empty());
  const uint64_t now = t.Load(kMtime, 8, {3, 77});
  CHECK(world.asked.size() == 1 && world.asked[0].kind == InputKind::kClock && world.asked[0].at.vcpu == 3 &&
        world.asked[0].at.count == 77 && world.asked[0].value == now);
  t.board.clint().ReadMtime({0, 5});  // the time CSR's path: the same input
  CHECK(world.asked.size() == 2 && world.asked[1].kind == InputKind::kClock);
  t.Store(kMtime, 8, 0);  // mtime follows host time: writes are ignored
  CHECK(t.events.timer.size() == 2 && t.events.software.size() == 1);
}

TEST(TestClintTimerPending, "CLINT: a hart's timer is pending once host time reaches its mtimecmp, never at the reset value") {
  replay::LiveWorld live;
  TestBoard t(2, live);
  CHECK(!t.board.clint().TimerPending(0) && !t.board.clint().TimerPending(1));
  t.Store(kMtimecmp + 8, 8, 0);
  CHECK(t.board.clint().TimerPending(1) && !t.board.clint().TimerPending(0));
}

TEST(TestSystemDevice, "system device: identification and hart count; entropy is a world input, 64 or 32 bits") {
  replay::LiveWorld live;
  WatchingWorld world(live);
  TestBoard t(3, world);
  CHECK(t.Load(emu::kSystemDeviceBase + 0, 4) == emu::kSystemDeviceMagic);
  CHECK(t.Load(emu::kSystemDeviceBase + 4, 4) == 3);
  CHECK(world.asked.empty());
  const uint64_t wide = t.Load(emu::kSystemDeviceBase + 8, 8, {2, 9});
  const uint64_t narrow = t.Load(emu::kSystemDeviceBase + 8, 4, {2, 10});
  CHECK(world.asked.size() == 2 && world.asked[0].kind == InputKind::kEntropy && world.asked[0].value == wide);
  CHECK(world.asked.size() == 2 && narrow == (world.asked[1].value & 0xffff'ffff));
  CHECK(t.Load(emu::kSystemDeviceBase + 0x10, 8) == 0);
}

TEST(TestFinisher, "test finisher: pass, fail with a code (0 becomes 1), anything else ignored") {
  replay::LiveWorld live;
  TestBoard t(2, live);
  t.Store(emu::kTestFinisherBase, 4, 0x5555, {1, 100});
  t.Store(emu::kTestFinisherBase, 4, (uint64_t{7} << 16) | 0x3333, {0, 200});
  t.Store(emu::kTestFinisherBase, 4, 0x3333, {0, 300});
  t.Store(emu::kTestFinisherBase, 4, 0x7777);  // reset: ignored
  t.Store(emu::kTestFinisherBase, 2, 0x5555);  // too narrow: ignored
  t.Store(emu::kTestFinisherBase + 4, 4, 0x5555);
  CHECK(t.events.exits.size() == 3);
  if (t.events.exits.size() == 3) {
    CHECK(t.events.exits[0].first.vcpu == 1 && t.events.exits[0].first.count == 100 && t.events.exits[0].second == 0);
    CHECK(t.events.exits[1].second == 7 && t.events.exits[2].second == 1);
  }
  CHECK(t.Load(emu::kTestFinisherBase, 4) == 0);
}

// The same accesses, recorded and then replayed on a board whose own sources would give
// other values (other console input, another clock, fresh entropy).
void MakeWorldAccesses(TestBoard& t, std::vector<uint64_t>& seen) {
  seen.push_back(t.Load(kLsr, 1, {0, 1}));
  seen.push_back(t.Load(kThr, 1, {0, 2}));
  seen.push_back(t.Load(kMtime, 8, {1, 3}));
  seen.push_back(t.Load(emu::kSystemDeviceBase + 8, 8, {1, 4}));
  seen.push_back(t.Load(kThr, 1, {0, 5}));
  seen.push_back(t.board.clint().ReadMtime({0, 6}));
}

TEST(TestReplayFeedsTheLog, "replay: every device value comes from the log; the live source is never called") {
  auto sink = std::make_shared<replay::MemoryChunkSink>();
  std::vector<uint64_t> recorded;
  int live_calls_recording = 0;
  {
    replay::LogHeader header;
    header.engine = "emu";
    header.vcpus = 2;
    replay::LiveWorld live;
    replay::LogWriter writer(header, sink);
    replay::RecordingWorld recording(live, writer);
    WatchingWorld world(recording);
    TestBoard t(2, world, "xy");
    MakeWorldAccesses(t, recorded);
    live_calls_recording = world.live_calls;
    writer.Close();
  }
  CHECK(live_calls_recording == 6);  // recording reads the world: the watch can see it
  CHECK(recorded[1] == 'x' && recorded[4] == 'y');

  // The log streams in: the replaying world reads it as far as each access needs.
  replay::ReplayingWorld replaying(
      std::make_unique<replay::LogReader>(std::make_unique<replay::MemoryChunkSource>(sink->bytes())));
  WatchingWorld world(replaying);
  TestBoard t(2, world, "QQ");
  std::vector<uint64_t> replayed;
  MakeWorldAccesses(t, replayed);
  CHECK(world.live_calls == 0);
  CHECK(replayed == recorded);

  // A device read the log does not hold at that landmark is a divergence, not a live read.
  bool diverged = false;
  try {
    t.Load(kThr, 1, {0, 99});
  } catch (const replay::Divergence& d) {
    diverged = d.at.vcpu == 0 && d.at.count == 99;
  }
  CHECK(diverged && world.live_calls == 0);
}

TEST(TestHartLimit, "board: 1 to kMaxHarts harts, one clear error otherwise") {
  replay::LiveWorld live;
  RecordedEvents events;
  for (uint32_t harts : {0u, emu::kMaxHarts + 1}) {
    std::string error;
    try {
      emu::Board board(harts, live, events, machine::ConsoleOutput::Mode::kCapture, machine::ConsoleInput::None());
    } catch (const std::invalid_argument& e) {
      error = e.what();
    }
    CHECK(error == "the emu machine has 1 to 64 harts, not " + std::to_string(harts));
  }
  emu::Board largest(emu::kMaxHarts, live, events, machine::ConsoleOutput::Mode::kCapture, machine::ConsoleInput::None());
}

}  // namespace

int main(int argc, char** argv) { return rrkit::testing::RunTests(argc, argv); }
