// The devices page's register behaviour (docs/platform.md): console, exit, clock, entropy,
// timer, end of interrupt, harts and the disk's registers. Every value that comes from
// the world passes through the World, so the same code runs, records and replays.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <utility>

#include "machine/console.h"
#include "kvm/disk_device.h"
#include "kvm/guest_memory.h"
#include "kvm/host_clock.h"
#include "kvm/interrupt_controller.h"
#include "kvm/periodic_timer.h"
#include "replay/world.h"

namespace rrkit::kvm {

// A register write the board cannot carry out (a console buffer outside RAM, ...): the
// guest cannot go on. what() is one line.
class BadDeviceAccess : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The registers as the exit dispatcher reaches them. Offsets are within the devices page.
class DeviceBus {
 public:
  virtual ~DeviceBus() = default;
  // A 64-bit read; nullopt when no register reads at `offset`.
  virtual std::optional<uint64_t> Read(uint64_t offset, replay::Landmark at) = 0;
  // A 64-bit write; false when no register takes writes at `offset`. Throws BadDeviceAccess
  // for a value the register cannot take.
  virtual bool Write(uint64_t offset, uint64_t value, replay::Landmark at) = 0;
  // Set once the guest wrote the exit register.
  virtual std::optional<int> exit_code() const = 0;
  // What the last write asked of the hart itself (the spin-wait hint, parking); taking it clears it.
  enum class HartRequest { kNone, kRelax, kPark };
  virtual HartRequest TakeHartRequest() { return HartRequest::kNone; }
};

class DevicesPage final : public DeviceBus {
 public:
  struct Parts {
    replay::World& world;
    const HostClock& clock;
    const GuestMemory& memory;  // the console-buffer write reads its bytes from here
    machine::ConsoleOutput& console_out;
    machine::ConsoleInput& console_in;
    PeriodicTimer& timer;
    InterruptController& interrupts;
    DiskDevice& disk;
    // Starts the host side of an accepted disk request (a read on the disk's thread when
    // running or recording; nothing when replaying, where the log says when it completes).
    std::function<void(const DiskRequest&)> start_disk_read;
    // The machine's vCPUs (the harts register) and which one this page belongs to: each
    // vCPU has its own view of the devices page (its own timer and interrupts); the
    // console and the disk are shared.
    uint32_t harts = 1;
    uint32_t hart = 0;
    // Before the page touches guest memory for the hart (the console buffer) or state
    // other harts share (the console): under SMP recording, gains the right to it (CREW).
    std::function<void(uint64_t address, uint64_t length, bool write)> guest_access = {};
    std::function<void()> shared_device = {};
  };
  explicit DevicesPage(Parts parts) : p_(std::move(parts)) {}

  std::optional<uint64_t> Read(uint64_t offset, replay::Landmark at) override;
  bool Write(uint64_t offset, uint64_t value, replay::Landmark at) override;
  std::optional<int> exit_code() const override { return exit_code_; }
  HartRequest TakeHartRequest() override { return std::exchange(hart_request_, HartRequest::kNone); }
  // The latest clock value the guest read (logged or live): where a replay going live
  // continues the clock from (HostClock::ContinueFrom).
  uint64_t latest_clock_ns() const { return latest_clock_ns_; }

  // The console-receive value as logged: 0 when no byte waits, else the byte + 1 (so the
  // common "nothing" costs one byte in the log, not ten).
  static uint64_t EncodeConsoleInput(std::optional<uint8_t> byte) { return byte ? uint64_t{*byte} + 1 : 0; }

 private:
  Parts p_;
  std::optional<int> exit_code_;
  HartRequest hart_request_ = HartRequest::kNone;
  uint64_t latest_clock_ns_ = 0;
};

}  // namespace rrkit::kvm
