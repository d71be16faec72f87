// A memory-mapped device as the bus sees it: register reads and writes at an offset from
// the device's base, each at the accessing vCPU's landmark (for values from the world).
// Device models are engine-neutral so that a test can drive them with made-up accesses
// and a fake World, and an engine's MMIO exits or slow-path accesses reach them the same way.
#pragma once

#include <cstdint>

#include "replay/landmark.h"

namespace rrkit::machine {

class Device {
 public:
  virtual ~Device() = default;
  // `offset` is from the device's base; `size` is 1, 2, 4 or 8. Unknown registers read as
  // 0 and ignore writes.
  virtual uint64_t Read(uint64_t offset, unsigned size, replay::Landmark at) = 0;
  virtual void Write(uint64_t offset, unsigned size, uint64_t value, replay::Landmark at) = 0;
};

}  // namespace rrkit::machine
