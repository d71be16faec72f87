// The emu board: the devices of QEMU virt's subset that rrkit implements (CLINT, UART,
// rrkit's system device, the test finisher), the console they talk to, the clock the CLINT
// counts, and the MMIO bus that routes every access outside RAM to them (memory_map.h).
// Built against a World and a BoardEvents, so that a test can drive it with made-up
// accesses and see what comes out (native/tools/device_test.cc).
#pragma once

#include <cstdint>

#include "emu/clint.h"
#include "emu/system_device.h"
#include "emu/test_finisher.h"
#include "emu/uart.h"
#include "machine/console.h"
#include "machine/mmio_bus.h"
#include "replay/world.h"

namespace rrkit::emu {

// What the board's devices tell the machine.
class BoardEvents {
 public:
  virtual ~BoardEvents() = default;
  // msip[hart] was written.
  virtual void SoftwareInterruptChanged(uint32_t hart) = 0;
  // mtimecmp[hart] was written: a live timer must re-arm, the hart re-check MTIP.
  virtual void TimerCompareChanged(uint32_t hart) = 0;
  // The test finisher was written: stop the machine with this exit code.
  virtual void ExitRequested(replay::Landmark at, int code) = 0;
};

class Board {
 public:
  // `world` and `events` must outlive the board.
  Board(uint32_t harts, replay::World& world, BoardEvents& events, machine::ConsoleOutput::Mode console,
        machine::ConsoleInput input);
  Board(const Board&) = delete;
  Board& operator=(const Board&) = delete;

  const machine::MmioBus& bus() const { return bus_; }
  Clint& clint() { return clint_; }
  const MachineClock& clock() const { return clock_; }
  MachineClock& clock() { return clock_; }
  machine::ConsoleOutput& console() { return console_out_; }
  Uart& uart() { return uart_; }

 private:
  MachineClock clock_;
  machine::ConsoleOutput console_out_;
  machine::ConsoleInput console_in_;
  Clint clint_;
  Uart uart_;
  SystemDevice system_device_;
  TestFinisher finisher_;
  machine::MmioBus bus_;
};

}  // namespace rrkit::emu
