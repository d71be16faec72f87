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

  // A state image (emu/state_image.h): the configuration registers.
  struct Registers {
    uint8_t ier = 0, lcr = 0, mcr = 0, scr = 0, dll = 0, dlm = 0;
  };
  Registers Save() const { return {ier_.load(), lcr_.load(), mcr_.load(), scr_.load(), dll_.load(), dlm_.load()}; }
  void Restore(const Registers& r) {
    ier_.store(r.ier);
    lcr_.store(r.lcr);
    mcr_.store(r.mcr);
    scr_.store(r.scr);
    dll_.store(r.dll);
    dlm_.store(r.dlm);
  }

 private:
  bool DivisorLatchAccess() const { return (lcr_.load(std::memory_order_relaxed) & 0x80) != 0; }

  replay::World& world_;
  machine::ConsoleOutput& output_;
  machine::ConsoleInput& input_;
  // Configuration registers a driver may write and read back; they affect nothing here.
  std::atomic<uint8_t> ier_{0}, lcr_{0}, mcr_{0}, scr_{0}, dll_{0}, dlm_{0};
};

}  // namespace rrkit::emu
