// Unit tests for the kvm engine's parts that need no /dev/kvm: the exit dispatcher fed with
// made-up exits, the devices page against a fake World, the interrupt controller, the
// periodic timer, the disk device and its reader, the incremental memory hash, the long-mode
// tables and CPUID, the x86_64 ELF loader, and the messages for a host without /dev/kvm.
// A test_harness.h program (--list, --run NAME). The ELF loader's test reads a built x86_64
// and rv64 guest named by RRKIT_TEST_X86_64_ELF and RRKIT_TEST_RV64_ELF.
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <deque>
#include <elf.h>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

#include "machine/console.h"
#include "kvm/board.h"
#include "kvm/devices_page.h"
#include "kvm/disk_device.h"
#include "kvm/disk_image.h"
#include "kvm/elf_image.h"
#include "kvm/exit_dispatch.h"
#include "kvm/guest_memory.h"
#include "kvm/host_clock.h"
#include "kvm/interrupt_controller.h"
#include "kvm/kvm_system.h"
#include "kvm/long_mode.h"
#include "kvm/memory_hash.h"
#include "kvm/periodic_timer.h"
#include "tools/test_harness.h"

using namespace rrkit::kvm;
using rrkit::replay::InputKind;
using rrkit::replay::Landmark;

namespace {

bool Contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// A World that hands out scripted values (as replay does) and records what it was asked.
class FakeWorld final : public rrkit::replay::World {
 public:
  std::map<InputKind, std::deque<uint64_t>> scripted;  // kind -> values to return; empty: ask `live`
  std::vector<std::pair<Landmark, InputKind>> asked;

  uint64_t Input(Landmark at, InputKind kind, const std::function<uint64_t()>& live) override {
    asked.emplace_back(at, kind);
    auto& values = scripted[kind];
    if (values.empty()) return live();
    const uint64_t v = values.front();
    values.pop_front();
    return v;
  }
  uint64_t RareOutcome(Landmark, InputKind, uint64_t usual, const std::function<uint64_t()>&) override { return usual; }
  bool DeliversLiveInterrupts() const override { return true; }
  void InterruptTaken(Landmark, uint64_t) override {}
  std::optional<Scheduled> ScheduledInterrupt(uint32_t) override { return std::nullopt; }
  std::optional<rrkit::replay::Checkpoint> ScheduledCheckpoint() override { return std::nullopt; }
  void CheckpointTaken(const rrkit::replay::Checkpoint&) override {}
  void MachineStopped(Landmark, int, const rrkit::replay::Checkpoint&, const rrkit::replay::OutputDigest&) override {}
  std::optional<std::vector<uint64_t>> FinalLandmarks() override { return std::nullopt; }
};

// The board's devices wired to a fake world, as the machine wires them.
struct Board {
  FakeWorld world;
  HostClock clock;
  rrkit::machine::ConsoleOutput out{rrkit::machine::ConsoleOutput::Mode::kCapture};
  rrkit::machine::ConsoleInput in;
  PeriodicTimer timer;
  InterruptController interrupts;
  DiskDevice disk;
  std::vector<DiskRequest> started;
  GuestMemory memory{std::make_shared<MemoryFile>(4 << 20)};
  DevicesPage page;

  explicit Board(std::vector<uint8_t> input = {}, uint64_t disk_sectors = 0)
      : in(rrkit::machine::ConsoleInput::FromBytes(std::move(input))),
        disk(disk_sectors, kImageBase, 64 << 20),
        page(DevicesPage::Parts{world, clock, memory, out, in, timer, interrupts, disk,
                                [this](const DiskRequest& r) { started.push_back(r); }}) {}
};

VmExit Mmio(uint64_t offset, bool is_write, uint64_t data = 0, uint32_t length = 8) {
  VmExit exit;
  exit.kind = VmExit::Kind::kMmio;
  exit.reason = KVM_EXIT_MMIO;
  exit.address = kDevicesBase + offset;
  exit.length = length;
  exit.is_write = is_write;
  exit.data = data;
  return exit;
}

uint64_t Reg(DeviceRegister r) { return static_cast<uint64_t>(r); }

TEST(TestDecodeExit, "DecodeExit: MMIO, port I/O, an emulation failure with its bytes, shutdown, others") {
  kvm_run run{};
  run.exit_reason = KVM_EXIT_MMIO;
  run.mmio.phys_addr = kDevicesBase + 0x10;
  run.mmio.len = 8;
  run.mmio.is_write = 1;
  const uint64_t value = 0x1234'5678'9abc'def0;
  std::memcpy(run.mmio.data, &value, sizeof value);
  const VmExit mmio = DecodeExit(run);
  CHECK(mmio.kind == VmExit::Kind::kMmio && mmio.address == kDevicesBase + 0x10 && mmio.is_write && mmio.data == value);

  run = kvm_run{};
  run.exit_reason = KVM_EXIT_IO;
  run.io.port = 0x80;
  run.io.direction = KVM_EXIT_IO_OUT;
  run.io.size = 1;
  const VmExit io = DecodeExit(run);
  CHECK(io.kind == VmExit::Kind::kIo && io.port == 0x80 && io.is_write);

  run = kvm_run{};
  run.exit_reason = KVM_EXIT_INTERNAL_ERROR;
  run.emulation_failure.suberror = KVM_INTERNAL_ERROR_EMULATION;
  run.emulation_failure.flags = KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES;
  run.emulation_failure.insn_size = 2;
  run.emulation_failure.insn_bytes[0] = 0xdf;
  run.emulation_failure.insn_bytes[1] = 0x28;
  const VmExit failure = DecodeExit(run);
  CHECK(failure.kind == VmExit::Kind::kInternalError && failure.instruction == std::vector<uint8_t>({0xdf, 0x28}));

  run = kvm_run{};
  run.exit_reason = KVM_EXIT_SHUTDOWN;
  CHECK(DecodeExit(run).kind == VmExit::Kind::kShutdown);
  run.exit_reason = KVM_EXIT_DEBUG;
  CHECK(DecodeExit(run).kind == VmExit::Kind::kOther);
}

TEST(TestConsoleAndExit, "console: bytes and buffered lines out, input as logged values (0, or byte + 1), the exit register") {
  Board b({'h', 'i'});
  for (const char c : std::string("ok\n")) {
    const ExitAction a = HandleExit(Mmio(Reg(DeviceRegister::kConsoleTransmit), true, static_cast<uint8_t>(c)), b.page, {0, 1});
    CHECK(a.kind == ExitAction::Kind::kResume && !a.mmio_value);
  }
  CHECK(b.out.Captured() == "ok\n");
  CHECK(b.out.Digest().bytes == 3);

  // Console input: the guest reads bytes, then all ones; the world saw 1 + byte, then 0.
  const auto rx = [&](uint64_t count) { return HandleExit(Mmio(Reg(DeviceRegister::kConsoleReceive), false), b.page, {0, count}); };
  CHECK(rx(2).mmio_value == uint64_t{'h'});
  CHECK(rx(3).mmio_value == uint64_t{'i'});
  CHECK(rx(4).mmio_value == ~uint64_t{0});
  CHECK(b.world.asked.size() == 3 && b.world.asked[0].second == InputKind::kConsoleData && b.world.asked[2].first.count == 4);
  CHECK(DevicesPage::EncodeConsoleInput(std::nullopt) == 0 && DevicesPage::EncodeConsoleInput(uint8_t{0}) == 1);

  // Replay: logged values, not the live console (which has nothing left).
  b.world.scripted[InputKind::kConsoleData] = {uint64_t{'z'} + 1, 0};
  CHECK(rx(5).mmio_value == uint64_t{'z'});
  CHECK(rx(6).mmio_value == ~uint64_t{0});

  // A whole line per exit: the bytes come from guest memory, nothing is logged.
  const std::string line = "buffered line\n";
  b.memory.Write(0x20'0000, std::span(reinterpret_cast<const uint8_t*>(line.data()), line.size()));
  const size_t asked = b.world.asked.size();
  const auto write = [&](uint64_t address, uint64_t length) {
    return HandleExit(Mmio(Reg(DeviceRegister::kConsoleWrite), true, length << kConsoleWriteLengthShift | address), b.page, {0, 7});
  };
  CHECK(write(0x20'0000, line.size()).kind == ExitAction::Kind::kResume);
  CHECK(b.out.Captured() == "ok\n" + line && b.world.asked.size() == asked);
  const ExitAction too_long = write(0x20'0000, kConsoleBufferMax + 1);
  CHECK(too_long.kind == ExitAction::Kind::kFault && Contains(too_long.fault, "at most 4096 per write"));
  const ExitAction outside = write((4 << 20) - 8, 16);
  CHECK(outside.kind == ExitAction::Kind::kFault && Contains(outside.fault, "from 0x3ffff8, which is not all in guest RAM"));

  const ExitAction stop = HandleExit(Mmio(Reg(DeviceRegister::kExit), true, 0xffff'ffff), b.page, {0, 12});
  CHECK(stop.kind == ExitAction::Kind::kStop && stop.exit_code == -1);
  Board c;
  CHECK(HandleExit(Mmio(Reg(DeviceRegister::kExit), true, 3), c.page, {0, 1}).exit_code == 3);
}

TEST(TestWorldValues, "clock and entropy are world inputs at the exit's landmark; constant registers are not") {
  Board b;
  b.world.scripted[InputKind::kClock] = {123456789};
  b.world.scripted[InputKind::kEntropy] = {0xfeed};
  CHECK(HandleExit(Mmio(Reg(DeviceRegister::kClockNs), false), b.page, {0, 10}).mmio_value == 123456789u);
  CHECK(HandleExit(Mmio(Reg(DeviceRegister::kEntropy), false), b.page, {0, 11}).mmio_value == 0xfeedu);
  CHECK(b.world.asked.size() == 2 && b.world.asked[0].first.count == 10 && b.world.asked[1].second == InputKind::kEntropy);
  // Live: the clock counts ns since the machine started, and moves forward.
  const uint64_t t1 = *HandleExit(Mmio(Reg(DeviceRegister::kClockNs), false), b.page, {0, 12}).mmio_value;
  std::this_thread::sleep_for(std::chrono::milliseconds(2));
  const uint64_t t2 = *HandleExit(Mmio(Reg(DeviceRegister::kClockNs), false), b.page, {0, 13}).mmio_value;
  CHECK(t2 > t1 && t2 - t1 >= 2'000'000);
  // Constant registers are not world values: nothing logged.
  const size_t asked = b.world.asked.size();
  CHECK(HandleExit(Mmio(Reg(DeviceRegister::kHarts), false), b.page, {0, 14}).mmio_value == 1u);
  CHECK(HandleExit(Mmio(Reg(DeviceRegister::kDiskSectors), false), b.page, {0, 15}).mmio_value == 0u);
  CHECK(b.world.asked.size() == asked);
}

TEST(TestBadAccesses, "an unknown register, a narrow or unaligned access, an address that is neither RAM nor a register: faults") {
  Board b;
  const ExitAction unknown_read = HandleExit(Mmio(0x400, false), b.page, {0, 1});
  CHECK(unknown_read.kind == ExitAction::Kind::kFault && Contains(unknown_read.fault, "offset 0x400, which is no readable register"));
  const ExitAction write_to_read_only = HandleExit(Mmio(Reg(DeviceRegister::kClockNs), true, 1), b.page, {0, 1});
  CHECK(write_to_read_only.kind == ExitAction::Kind::kFault && Contains(write_to_read_only.fault, "no writable register"));
  const ExitAction narrow = HandleExit(Mmio(0, true, 'x', 4), b.page, {0, 1});
  CHECK(narrow.kind == ExitAction::Kind::kFault && Contains(narrow.fault, "4-byte access") && Contains(narrow.fault, "64-bit"));
  const ExitAction unaligned = HandleExit(Mmio(4, false), b.page, {0, 1});
  CHECK(unaligned.kind == ExitAction::Kind::kFault);
  VmExit elsewhere = Mmio(0, true, 1);
  elsewhere.address = 0xe000'0000;
  const ExitAction nowhere = HandleExit(elsewhere, b.page, {0, 1});
  CHECK(nowhere.kind == ExitAction::Kind::kFault && Contains(nowhere.fault, "write to 0xe0000000, which is neither guest RAM nor the devices page"));
  CHECK(b.out.Captured().empty());
}

TEST(TestOtherExits, "port I/O, HLT, triple fault, emulation failure, entry failure, unknown exits") {
  Board b;
  VmExit exit;
  exit.kind = VmExit::Kind::kIo;
  exit.port = 0x3f8;
  exit.is_write = true;
  CHECK(Contains(HandleExit(exit, b.page, {0, 1}).fault, "port I/O (out to port 0x3f8)"));
  exit = VmExit{};
  exit.kind = VmExit::Kind::kHalt;
  CHECK(HandleExit(exit, b.page, {0, 1}).kind == ExitAction::Kind::kHalt);
  exit.kind = VmExit::Kind::kShutdown;
  CHECK(Contains(HandleExit(exit, b.page, {0, 1}).fault, "triple fault"));
  exit.kind = VmExit::Kind::kInternalError;
  exit.detail = KVM_INTERNAL_ERROR_EMULATION;
  exit.instruction = {0xdf, 0x28};
  const std::string failure = HandleExit(exit, b.page, {0, 1}).fault;
  CHECK(Contains(failure, "emulation failure") && Contains(failure, "instruction bytes df 28"));
  exit = VmExit{};
  exit.kind = VmExit::Kind::kFailEntry;
  exit.detail = 0x21;
  CHECK(Contains(HandleExit(exit, b.page, {0, 1}).fault, "hardware entry failure reason 0x21"));
  exit = VmExit{};
  exit.kind = VmExit::Kind::kOther;
  exit.reason = KVM_EXIT_DEBUG;
  CHECK(HandleExit(exit, b.page, {0, 1}).fault == "unhandled VM exit: KVM_EXIT_DEBUG");
  CHECK(ExitReasonName(999) == "exit reason 999");
}

TEST(TestInterruptController, "interrupt controller: lowest vector first, one in service until its EOI, re-raising coalesces") {
  using Clock = InterruptController::Clock;
  InterruptController ic;
  const auto t0 = Clock::now();
  CHECK(!ic.Deliverable());
  ic.Raise(kDiskVector, t0 + std::chrono::milliseconds(5));
  ic.Raise(kTimerVector, t0);
  ic.Raise(kTimerVector, t0 + std::chrono::milliseconds(9));  // again while pending: one delivery, first due time
  CHECK(ic.Deliverable() == kTimerVector);  // lowest vector first
  CHECK(ic.Deliver(kTimerVector) == t0);
  CHECK(!ic.Deliverable());  // one in service at a time
  CHECK(ic.pending(kDiskVector) && !ic.pending(kTimerVector));
  ic.EndOfInterrupt(kDiskVector);  // not in service: ignored
  CHECK(ic.in_service() == kTimerVector);
  ic.EndOfInterrupt(kTimerVector);
  CHECK(ic.Deliverable() == kDiskVector);
  CHECK(ic.Deliver(kDiskVector) == t0 + std::chrono::milliseconds(5));
  ic.EndOfInterrupt(kDiskVector);
  CHECK(!ic.Deliverable() && !ic.in_service());
  bool threw = false;
  try {
    ic.Raise(0x10, t0);
  } catch (const std::invalid_argument&) {
    threw = true;
  }
  CHECK(threw);
  // Replay delivers what the log says even if no device raised it.
  ic.Deliver(kTimerVector);
  CHECK(ic.in_service() == kTimerVector);
}

TEST(TestPeriodicTimer, "periodic timer: due times, missed ticks dropped, stopped by 0") {
  using Clock = PeriodicTimer::Clock;
  using std::chrono::microseconds;
  PeriodicTimer timer;
  const auto t0 = Clock::now();
  CHECK(!timer.TakeDue(t0));
  timer.SetPeriod(1000, t0);  // 1 µs
  CHECK(!timer.TakeDue(t0));
  CHECK(timer.TakeDue(t0 + microseconds(1)) == t0 + microseconds(1));
  CHECK(timer.next_due() == t0 + microseconds(2));
  // Fell behind by many periods: one tick, and the next a period after now (missed ticks dropped).
  CHECK(timer.TakeDue(t0 + microseconds(50)) == t0 + microseconds(2));
  CHECK(timer.next_due() == t0 + microseconds(51));
  timer.SetPeriod(0, t0);
  CHECK(!timer.next_due() && !timer.TakeDue(t0 + microseconds(100)));
}

TEST(TestDiskDevice, "disk device: requests accepted, refused (past the end, too long, outside RAM, no disk), ignored while busy") {
  DiskDevice none(0, kImageBase, 64 << 20);
  none.SetAddress(kImageBase);
  CHECK(!none.Start(1) && none.status() == DiskStatus::kError);

  DiskDevice disk(100, kImageBase, 64 << 20);
  CHECK(disk.status() == DiskStatus::kIdle);
  disk.SetSector(98);
  disk.SetAddress(0x20'0000);
  CHECK(!disk.Start(3) && disk.status() == DiskStatus::kError);  // past the end
  CHECK(!disk.Start(0) && disk.status() == DiskStatus::kError);
  disk.SetSector(0);
  CHECK(!disk.Start(kMaxRequestSectors + 1));
  disk.SetAddress(0x1000);  // the VMM's low memory
  CHECK(!disk.Start(1));
  disk.SetAddress((64 << 20) - 512);
  CHECK(!disk.Start(2));  // runs past RAM
  disk.SetAddress(0x20'0000);
  disk.SetSector(2);
  const auto request = disk.Start(4);
  CHECK(request && request->disk_offset() == 1024 && request->bytes() == 2048 && request->address == 0x20'0000);
  CHECK(disk.status() == DiskStatus::kBusy);
  CHECK(!disk.Start(1) && disk.status() == DiskStatus::kBusy);  // ignored while one is in flight
  disk.Complete();
  CHECK(disk.status() == DiskStatus::kIdle && !disk.in_flight());
}

TEST(TestDiskThroughThePage, "disk through the devices page: a request starts the host read; a refused one raises vector 0x21 at once") {
  Board b({}, 64);
  CHECK(HandleExit(Mmio(Reg(DeviceRegister::kDiskSectors), false), b.page, {0, 1}).mmio_value == 64u);
  HandleExit(Mmio(Reg(DeviceRegister::kDiskSector), true, 8), b.page, {0, 2});
  HandleExit(Mmio(Reg(DeviceRegister::kDiskAddress), true, 0x30'0000), b.page, {0, 3});
  HandleExit(Mmio(Reg(DeviceRegister::kDiskCount), true, 2), b.page, {0, 4});
  CHECK(b.started.size() == 1 && b.started[0].sector == 8 && b.started[0].sectors == 2);
  CHECK(HandleExit(Mmio(Reg(DeviceRegister::kDiskStatus), false), b.page, {0, 5}).mmio_value == 1u);
  CHECK(!b.interrupts.Deliverable());  // completion comes from the machine, when the read is done
  b.disk.Complete();
  HandleExit(Mmio(Reg(DeviceRegister::kDiskCount), true, 1000), b.page, {0, 6});  // refused at once
  CHECK(b.started.size() == 1 && b.disk.status() == DiskStatus::kError && b.interrupts.Deliverable() == kDiskVector);
  // End of interrupt through the page.
  b.interrupts.Deliver(kDiskVector);
  HandleExit(Mmio(Reg(DeviceRegister::kEndOfInterrupt), true, kDiskVector), b.page, {0, 7});
  CHECK(!b.interrupts.in_service());
  // The timer period register arms the timer.
  HandleExit(Mmio(Reg(DeviceRegister::kTimerPeriodNs), true, 1'000'000), b.page, {0, 8});
  CHECK(b.timer.period_ns() == 1'000'000 && b.timer.next_due().has_value());
}

TEST(TestDiskReader, "disk image and its reader thread: a read completes once; bad images are one-line errors") {
  char dir_template[] = "/tmp/rrkit-kvm-devices-XXXXXX";
  CHECK(mkdtemp(dir_template) != nullptr);
  const std::string dir = dir_template;
  const std::string path = dir + "/disk.img";
  {
    std::ofstream out(path, std::ios::binary);
    for (int i = 0; i < 4 * 512; ++i) out.put(static_cast<char>(i * 7));
  }
  DiskImage image(path);
  CHECK(image.sectors() == 4);
  DiskReader reader(image);
  reader.Start(512, 1024);
  std::optional<DiskReader::Done> done;
  for (int i = 0; i < 2000 && !done; ++i) {
    reader.WaitUntil(DiskReader::Clock::now() + std::chrono::milliseconds(5));
    done = reader.Poll();
  }
  CHECK(done && done->error.empty() && done->data.size() == 1024 && done->data[0] == static_cast<uint8_t>(512 * 7));
  CHECK(!reader.Poll());  // once

  const std::string odd = dir + "/odd.img";
  { std::ofstream(odd, std::ios::binary) << "not a whole sector"; }
  bool refused = false;
  try {
    DiskImage bad(odd);
  } catch (const std::runtime_error& e) {
    refused = Contains(e.what(), "not a positive multiple of 512-byte sectors");
  }
  CHECK(refused);
  bool missing = false;
  try {
    DiskImage bad(dir + "/missing.img");
  } catch (const std::runtime_error& e) {
    missing = Contains(e.what(), "No such file");
  }
  CHECK(missing);
  std::filesystem::remove_all(dir);
}

TEST(TestMemoryHash, "memory hash: incremental equals from scratch, zeroed pages equal holes, position matters, two mappings") {
  auto file = std::make_shared<MemoryFile>(8 << 20);
  GuestMemory memory(file);
  const uint8_t early[] = {9};
  memory.Write(0x5000, early);
  const uint64_t with_early = HashGuestMemory(memory);
  MemoryHash hash(memory);
  hash.UpdateAll();
  CHECK(hash.value() == with_early);
  memory.Write(0x5000, std::span<const uint8_t>(std::vector<uint8_t>{0}));
  hash.UpdateAll();
  const uint64_t empty = HashGuestMemory(memory);
  CHECK(hash.value() == empty);

  const uint8_t data[] = {1, 2, 3, 4};
  memory.Write(0x10'0000, data);
  memory.Write(0x40'0123, data);
  const uint64_t full = HashGuestMemory(memory);
  CHECK(full != empty);
  std::vector<uint64_t> dirty((8 << 20) / kPageBytes / 64, 0);
  dirty[0x100 / 64] |= uint64_t{1} << (0x100 % 64);  // page 0x100 dirty (as KVM reports)
  hash.NoteWritten(0x40'0123, sizeof data);          // page 0x400 written by the VMM
  hash.Update(dirty);
  CHECK(hash.value() == full);  // incremental == from scratch

  // A page written and zeroed again hashes like a page never touched.
  const uint8_t zeros[4] = {};
  memory.Write(0x40'0123, zeros);
  hash.NoteWritten(0x40'0123, sizeof zeros);
  hash.Update({});
  memory.Write(0x10'0000, zeros);
  dirty.assign(dirty.size(), 0);
  dirty[0x100 / 64] |= uint64_t{1} << (0x100 % 64);
  hash.Update(dirty);
  CHECK(hash.value() == empty && HashGuestMemory(memory) == empty);

  // Where the data lies matters, not only what it is.
  memory.Write(0x20'0000, data);
  const uint64_t here = HashGuestMemory(memory);
  memory.Write(0x20'0000, zeros);
  memory.Write(0x30'0000, data);
  CHECK(HashGuestMemory(memory) != here);

  // Two mappings of one file see the same bytes (SMP as one VM per vCPU maps it per VM).
  const auto again = memory.MapAgain();
  CHECK(again->host() != memory.host() && again->Read64(0x30'0000) == memory.Read64(0x30'0000));
}

TEST(TestLongMode, "long mode: tables below 1 MiB, the devices page mapped for CPL3, control registers, CPUID edits") {
  auto file = std::make_shared<MemoryFile>(8 << 20);
  GuestMemory memory(file);
  WriteLongModeTables(memory, 0x12'3450);
  const uint64_t pml4 = memory.Read64(kPml4Address);
  CHECK((pml4 & ~uint64_t{0xfff}) == kPdptAddress && (pml4 & 7) == 7);  // present, writable, user
  // The devices page (0xd000_0000, in the 4th GiB) is mapped, user-accessible, as a 2 MiB page.
  const uint64_t pd_entry = memory.Read64(kPageDirectoriesAddress + 8 * (kDevicesBase >> 21));
  CHECK((pd_entry & ~uint64_t{0x1fffff}) == kDevicesBase && (pd_entry & 0x87) == 0x87);
  CHECK(memory.Read64(kPdptAddress + 8 * 4) == 0);  // nothing above 4 GiB
  uint8_t rsp0[8];
  memory.Read(kTssAddress + 4, rsp0);
  uint64_t rsp0_value = 0;
  std::memcpy(&rsp0_value, rsp0, 8);
  CHECK(rsp0_value == 0x12'3450);
  CHECK(memory.Read64(kGdtAddress + 8 * 3) == 0x00af'fa00'0000'ffff);  // user code, DPL 3, 64-bit

  const kvm_sregs s = LongModeSregs(kvm_sregs{});
  CHECK(s.cr0 == 0x8005'0033 && s.cr3 == kPml4Address && s.cr4 == 0x624 && s.efer == 0x500);
  CHECK(s.cs.selector == kKernelCodeSelector && s.cs.l == 1 && s.cs.dpl == 0 && s.tr.type == 11 && s.tr.base == kTssAddress);

  std::vector<kvm_cpuid_entry2> supported(3);
  supported[0].function = 1;
  supported[0].ecx = 0xffff'ffff;
  supported[0].edx = 0xffff'ffff;
  supported[1].function = 7;
  supported[1].ebx = 0xffff'ffff;
  supported[2].function = 0xa;
  supported[2].eax = 0x0703'0805;
  const auto cpuid = GuestCpuid(supported);
  CHECK((cpuid[0].ecx & (1u << 30)) == 0 && (cpuid[0].edx & (1u << 9)) == 0 && (cpuid[0].ecx & 1u) == 1);
  CHECK((cpuid[1].ebx & (1u << 18)) == 0 && cpuid[2].eax == 0);
}

std::vector<uint8_t> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(in)), {});
}

std::string ElfError(const std::vector<uint8_t>& bytes, uint64_t ram = 128 << 20) {
  try {
    LoadX86Elf(bytes, "g.elf", ram);
  } catch (const rrkit::kvm::ElfError& e) {
    return e.what();
  }
  return "";
}

TEST(TestElf, "x86_64 ELF loader: entry, segments and symbols; one-line errors for anything else") {
  const char* x86_env = std::getenv("RRKIT_TEST_X86_64_ELF");
  const char* rv64_env = std::getenv("RRKIT_TEST_RV64_ELF");
  CHECK(x86_env != nullptr && rv64_env != nullptr);
  if (x86_env == nullptr || rv64_env == nullptr) return;
  const std::string x86_path = x86_env, rv64_path = rv64_env;
  const std::vector<uint8_t> x86 = ReadFile(x86_path);
  CHECK(!x86.empty());
  const ElfImage image = LoadX86Elf(x86, x86_path, 128 << 20);
  CHECK(image.entry == kImageBase && !image.segments.empty());
  CHECK(image.boot_stack_top > kImageBase && image.image_end >= image.boot_stack_top);
  CHECK(Contains(ElfError(x86, 1 << 20), "outside RAM"));
  CHECK(Contains(ElfError(ReadFile(rv64_path)), "g.elf: wrong architecture: machine 243, the kvm engine runs x86_64 guests"));
  CHECK(ElfError({'h', 'i'}) == "g.elf: not an ELF file");
  std::vector<uint8_t> truncated(x86.begin(), x86.begin() + 40);
  CHECK(ElfError(truncated) == "g.elf: truncated ELF header");
  std::vector<uint8_t> stripped = x86;
  reinterpret_cast<Elf64_Ehdr*>(stripped.data())->e_shnum = 0;  // no section headers: no symbols
  CHECK(Contains(ElfError(stripped), "no __boot_stack_top or __image_end symbol"));
}

TEST(TestUnavailableMessages, "no /dev/kvm: one line per cause (permission, PVM refusing to bind, module, CPU, other)") {
  KvmHostFacts f;
  f.open_errno = EACCES;
  CHECK(Contains(DescribeUnavailable(f), "/dev/kvm: permission denied: add your user to the kvm group"));
  f.open_errno = ENOENT;
  f.pvm_refuses_to_bind = true;
  const std::string pvm = DescribeUnavailable(f);
  CHECK(Contains(pvm, "is absent: this kernel is itself a KVM PVM guest and kvm_pvm refuses to bind") &&
        Contains(pvm, "npm run test:kvm"));
  f.pvm_refuses_to_bind = false;
  f.misc_lists_kvm = true;
  CHECK(Contains(DescribeUnavailable(f), "mknod /dev/kvm c 10 232"));
  f.misc_lists_kvm = false;
  f.cpu_has_virtualization = true;
  CHECK(Contains(DescribeUnavailable(f), "no KVM module is loaded"));
  f.cpu_has_virtualization = false;
  CHECK(Contains(DescribeUnavailable(f), "no hardware virtualization"));
  f.open_errno = EBUSY;
  CHECK(Contains(DescribeUnavailable(f), "/dev/kvm: cannot open:"));
  for (const int e : {EACCES, ENOENT, EBUSY}) {
    f.open_errno = e;
    CHECK(DescribeUnavailable(f).find('\n') == std::string::npos);  // one line
  }
  // A path that does not exist, opened for real.
  bool absent = false;
  try {
    KvmSystem::Open("/nonexistent/kvm");
  } catch (const KvmUnavailable& e) {
    absent = Contains(e.what(), "/nonexistent/kvm is absent");
  }
  CHECK(absent);
}

}  // namespace

int main(int argc, char** argv) { return rrkit::testing::RunTests(argc, argv); }
