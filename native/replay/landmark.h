// A point in one vCPU's execution: the log's unit of time.
#pragma once

#include <cstdint>
#include <limits>

namespace rrkit::replay {

// emu: instructions the vCPU retired before the current instruction (exact). kvm:
// synchronous exits the vCPU has taken so far.
struct Landmark {
  uint32_t vcpu = 0;
  uint64_t count = 0;
};

// A count no vCPU reaches: "never" for a landmark something is scheduled at.
inline constexpr uint64_t kNever = std::numeric_limits<uint64_t>::max();

}  // namespace rrkit::replay
