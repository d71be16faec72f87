// One ordering constraint between two vCPUs, the unit that CREW records and replays:
// everything `from_vcpu` did to `page` before it had retired `from_count` instructions
// happens before whatever `to_vcpu` does to it from instruction `to_count` on.
#pragma once

#include <cstdint>
#include <functional>

namespace rrkit::crew {

struct TransferEdge {
  uint64_t page;
  uint32_t from_vcpu;
  uint64_t from_count;
  uint32_t to_vcpu;
  uint64_t to_count;

  bool operator==(const TransferEdge&) const = default;
};

// Where recording sends edges. Called with Crew's lock held, from whichever vCPU thread
// completed the transfer: it must be quick and must not call back into Crew.
using TransferSink = std::function<void(const TransferEdge&)>;

// A page granted along with a requested one (Crew::Acquire's `along`): `vcpu` has `write`
// (or read) on `page` from its landmark `count`, the one where it stopped for another
// page, without having stopped on this one. `edges`: the TransferEdges into it (sent to
// the TransferSink just before).
struct AlongGrant {
  uint64_t page;
  uint32_t vcpu;
  uint64_t count;
  bool write;
  uint32_t edges;
};
using AlongSink = std::function<void(const AlongGrant&)>;

}  // namespace rrkit::crew
