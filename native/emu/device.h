// What a memory-mapped device on the board looks like to the bus, and what devices tell
// the machine (interrupt lines, exit).
#pragma once

#include <cstdint>

#include "replay/world.h"

namespace rrkit::emu {

// The machine, as seen from its devices.
class BoardEvents {
 public:
  virtual ~BoardEvents() = default;
  // msip[hart] was written.
  virtual void SoftwareInterruptChanged(uint32_t hart) = 0;
  // mtimecmp[hart] was written: the timer thread must re-arm, the hart re-check MTIP.
  virtual void TimerCompareChanged(uint32_t hart) = 0;
  // The test finisher was written: stop the machine with this exit code.
  virtual void ExitRequested(replay::Landmark at, int code) = 0;
};

class Device {
 public:
  virtual ~Device() = default;
  // `offset` is from the device's base; `size` is 1, 2, 4 or 8. `at` is the accessing
  // hart's landmark, for world inputs. Unknown registers read as 0 and ignore writes.
  virtual uint64_t Read(uint64_t offset, unsigned size, replay::Landmark at) = 0;
  virtual void Write(uint64_t offset, unsigned size, uint64_t value, replay::Landmark at) = 0;
};

}  // namespace rrkit::emu
