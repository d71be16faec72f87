// What serialized mode records (docs/crew.md, "Serialized mode"): the unit the Serializer
// writes and the TurnFollower replays, as TransferEdge is for CREW.
//
// A serialized group is a set of vCPUs of which one at a time runs (holds the turn). Its
// records form one sequence, in the order they were written: every record is written
// while no member of the group executes, and replay processes a group's records in that
// order. A member executes only while it holds the turn.
#pragma once

#include <cstdint>
#include <functional>
#include <variant>

namespace rrkit::crew {

// `vcpu`, stopped at `count`, joins group `group` (serialized) or leaves it (parallel again).
struct ModeSwitch {
  uint32_t vcpu;
  uint64_t count;
  uint64_t group;
  bool serialized;

  bool operator==(const ModeSwitch&) const = default;
};

// `vcpu`'s turn ends at `count`; `next` holds the group's turn from there. A group's first
// turn is a record with next == vcpu, at the count where that member joined.
struct TurnSwitch {
  uint32_t vcpu;
  uint64_t count;
  uint32_t next;

  bool operator==(const TurnSwitch&) const = default;
};

using SerialRecord = std::variant<ModeSwitch, TurnSwitch>;

inline uint32_t VcpuOf(const SerialRecord& r) {
  return std::visit([](const auto& x) { return x.vcpu; }, r);
}
inline uint64_t CountOf(const SerialRecord& r) {
  return std::visit([](const auto& x) { return x.count; }, r);
}

// Where recording sends them, in order. Called with the Serializer's lock held.
using SerialSink = std::function<void(const SerialRecord&)>;

}  // namespace rrkit::crew
