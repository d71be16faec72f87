// Who holds each page, and what a new holder must be ordered after. Pure bookkeeping with
// no threads: Crew (crew.h) calls it under its lock, and decides who yields when.
//
// A page is either shared-read by a set of vCPUs or owned for write by one. Each holder
// remembers the count at which it gained its rights (`since`) and the landmarks it was
// ordered after then (`inbound`). A holder that yields at the very count it gained its
// rights never executed with them (it was parked before that instruction, e.g. faulting
// on a second page for the same instruction); its yield alone would not carry the order
// it received, because in replay it publishes that count while still waiting at its own
// gate, so its inbound landmarks are forwarded to the next holder.
//
// An untouched page has no holder: the first vCPU to touch it takes it without an edge.
// That is deterministic because replay starts from the identical image (its hash is in
// the log header), so every page's contents before its first transfer are the same.
//
// A page may also be *shared*: granted to the holder of a serialized group's turn while
// other members of the group keep their rights, writes included (docs/crew.md, "Pages
// shared within a group"); the turn order, which the log records, orders their accesses.
// Until the next exclusive write, such a page's writers each leave a landmark when they
// yield, since none of them followed the others.
#pragma once

#include <cstdint>
#include <unordered_map>
#include <vector>

#include "crew/permission_table.h"
#include "replay/world.h"

namespace rrkit::crew {

using replay::Landmark;

// No allocation per transfer once a page's vectors have grown to their working size: a
// holder that gives a page up stays in its list with no rights (its vectors keep their
// capacity for the next time), and Grant's edges are built in scratch space.
class OwnershipTable {
 public:
  struct Holder {
    uint32_t vcpu;
    Access access;  // kNone: it gave the page up (kept for its vectors' capacity)
    uint64_t since;
    std::vector<Landmark> inbound;
  };

  // The holders that must give something up before `vcpu` may have `want` on `page`.
  std::vector<uint32_t> Conflicts(uint64_t page, uint32_t vcpu, Access want) const;
  // The same into `out` (cleared first), which keeps its capacity.
  void Conflicts(uint64_t page, uint32_t vcpu, Access want, std::vector<uint32_t>& out) const;

  // `holder` keeps only `keep` on `page`, yielding at instruction count `at`.
  void Yield(uint64_t page, uint32_t holder, Access keep, uint64_t at);

  // Gives `vcpu` `want` on `page` from count `at`, once Conflicts() is empty (or, `shared`,
  // once only members of its serialized group, which keep their rights, remain). Returns
  // the landmarks to record as edges into `vcpu` (one per predecessor vCPU, its latest
  // count, never `vcpu` itself), valid until the table's next call.
  const std::vector<Landmark>& Grant(uint64_t page, uint32_t vcpu, Access want, uint64_t at, bool shared = false);

  Access HolderAccess(uint64_t page, uint32_t vcpu) const;
  // `vcpu`'s access and how many other vCPUs hold rights on `page`, in one look-up (a
  // serialized turn asks both of its shared pages at every turn).
  struct Holding {
    Access mine = Access::kNone;
    size_t others = 0;
  };
  Holding HoldingOf(uint64_t page, uint32_t vcpu) const;

  // Calls f(holder) for every holder of `page` other than `vcpu`; returns how many.
  template <class F>
  size_t ForOtherHolders(uint64_t page, uint32_t vcpu, F f) const {
    auto it = pages_.find(page);
    if (it == pages_.end()) return 0;
    size_t n = 0;
    for (const Holder& h : it->second.holders) {
      if (h.vcpu == vcpu || h.access == Access::kNone) continue;
      f(h.vcpu);
      ++n;
    }
    return n;
  }

  // Whether anyone has ever held `page` (a page nobody touched has its image contents).
  bool Touched(uint64_t page) const { return pages_.contains(page); }

 private:
  // A yield belongs to the page, not to the request that caused it: every later holder
  // that conflicts with what was given up must follow it, whichever of several waiting
  // vCPUs is granted first.
  struct Page {
    std::vector<Holder> holders;
    // Where the last write period ended: every later holder follows it (a reader joining
    // a shared page included, though nobody yields to it).
    std::vector<Landmark> write_ended;
    // Where readers since that write gave up their rights: the next writer follows them.
    std::vector<Landmark> reads_ended;
    // Granted shared since its last exclusive write: a writer's yield adds to write_ended
    // instead of replacing it.
    bool shared = false;
  };

  std::unordered_map<uint64_t, Page> pages_;
  std::vector<Landmark> edges_;  // Grant's answer
};

}  // namespace rrkit::crew
