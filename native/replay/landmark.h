// A point in one vCPU's execution: the log's unit of time.
#pragma once

#include <cstdint>

namespace rrkit::replay {

// emu: instructions the vCPU retired before the current instruction (exact). kvm:
// synchronous exits the vCPU has taken so far.
struct Landmark {
  uint32_t vcpu = 0;
  uint64_t count = 0;
};

}  // namespace rrkit::replay
