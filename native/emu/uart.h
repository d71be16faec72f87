// An ns16550a UART, the registers a polled driver uses. Transmit goes to the console
// output; receive data and line status come from the world (kConsoleData,
// kConsoleStatus), since whether a byte is waiting depends on the outside.
#pragma once

#include <atomic>
#include <cstdint>

#include "machine/console.h"
#include "machine/device.h"
#include "replay/world.h"

namespace rrkit::emu {

class Uart final : public machine::Device {
 public:
  Uart(replay::World& world, machine::ConsoleOutput& output, machine::ConsoleInput& input)
      : world_(world), output_(output), input_(input) {}

  uint64_t Read(uint64_t offset, unsigned size, replay::Landmark at) override;
  void Write(uint64_t offset, unsigned size, uint64_t value, replay::Landmark at) override;

 private:
  bool DivisorLatchAccess() const { return (lcr_.load(std::memory_order_relaxed) & 0x80) != 0; }

  replay::World& world_;
  machine::ConsoleOutput& output_;
  machine::ConsoleInput& input_;
  // Configuration registers a driver may write and read back; they affect nothing here.
  std::atomic<uint8_t> ier_{0}, lcr_{0}, mcr_{0}, scr_{0}, dll_{0}, dlm_{0};
};

}  // namespace rrkit::emu
