#include "crew/ownership_table.h"

#include <algorithm>

namespace rrkit::crew {
namespace {

constexpr uint32_t kNobody = UINT32_MAX;

// Keeps one landmark per vCPU, the latest, and none from `self` (program order already
// covers it), in place.
void KeepLatest(std::vector<Landmark>& order, uint32_t self) {
  std::sort(order.begin(), order.end(), [](const Landmark& a, const Landmark& b) {
    return a.vcpu != b.vcpu ? a.vcpu < b.vcpu : a.count > b.count;
  });
  size_t kept = 0;
  for (size_t i = 0; i < order.size(); ++i) {
    const Landmark l = order[i];
    if (l.vcpu == self || (kept > 0 && order[kept - 1].vcpu == l.vcpu)) continue;
    order[kept++] = l;
  }
  order.resize(kept);
}

void Append(std::vector<Landmark>& into, const std::vector<Landmark>& more) {
  into.insert(into.end(), more.begin(), more.end());
}

}  // namespace

std::vector<uint32_t> OwnershipTable::Conflicts(uint64_t page, uint32_t vcpu, Access want) const {
  std::vector<uint32_t> out;
  Conflicts(page, vcpu, want, out);
  return out;
}

void OwnershipTable::Conflicts(uint64_t page, uint32_t vcpu, Access want, std::vector<uint32_t>& out) const {
  out.clear();
  auto it = pages_.find(page);
  if (it == pages_.end()) return;
  for (const Holder& h : it->second.holders) {
    if (h.vcpu == vcpu || h.access == Access::kNone) continue;
    if (want == Access::kWrite || h.access == Access::kWrite) out.push_back(h.vcpu);
  }
}

void OwnershipTable::Yield(uint64_t page, uint32_t holder, Access keep, uint64_t at) {
  Page& p = pages_[page];
  auto it = std::find_if(p.holders.begin(), p.holders.end(), [&](const Holder& h) { return h.vcpu == holder; });
  if (it == p.holders.end() || it->access <= keep) return;
  // Its landmark, and, when it never executed with the right, the order it received.
  const auto add = [&](std::vector<Landmark>& into) {
    into.push_back({holder, at});
    if (at == it->since) Append(into, it->inbound);
  };
  if (it->access == Access::kWrite && !p.shared) {
    p.write_ended.clear();  // it followed the previous ones when it was granted
    add(p.write_ended);
  } else if (it->access == Access::kWrite) {
    // Another member may write it too, and neither followed the other: both ends count.
    add(p.write_ended);
    KeepLatest(p.write_ended, kNobody);
  } else {
    add(p.reads_ended);
    KeepLatest(p.reads_ended, kNobody);
  }
  it->access = keep;  // kNone: stays listed, rightless
}

const std::vector<Landmark>& OwnershipTable::Grant(uint64_t page, uint32_t vcpu, Access want, uint64_t at, bool shared) {
  Page& p = pages_[page];
  if (shared) p.shared = true;
  else if (want == Access::kWrite) p.shared = false;  // the only holder now
  edges_.assign(p.write_ended.begin(), p.write_ended.end());
  if (want == Access::kWrite) {
    Append(edges_, p.reads_ended);
    // From here on, this writer stands for them: whoever follows it follows them too.
    p.write_ended.clear();
    p.reads_ended.clear();
  }
  KeepLatest(edges_, vcpu);
  auto it = std::find_if(p.holders.begin(), p.holders.end(), [&](const Holder& h) { return h.vcpu == vcpu; });
  if (it == p.holders.end()) {
    p.holders.push_back(Holder{vcpu, want, at, edges_});
  } else if (it->access < want) {
    // New, or an upgrade: what it was ordered after as a reader still holds (program order).
    it->access = want;
    it->since = at;
    it->inbound.assign(edges_.begin(), edges_.end());
  }
  return edges_;
}

Access OwnershipTable::HolderAccess(uint64_t page, uint32_t vcpu) const {
  auto it = pages_.find(page);
  if (it == pages_.end()) return Access::kNone;
  for (const Holder& h : it->second.holders) {
    if (h.vcpu == vcpu) return h.access;
  }
  return Access::kNone;
}

OwnershipTable::Holding OwnershipTable::HoldingOf(uint64_t page, uint32_t vcpu) const {
  Holding holding;
  auto it = pages_.find(page);
  if (it == pages_.end()) return holding;
  for (const Holder& h : it->second.holders) {
    if (h.vcpu == vcpu) holding.mine = h.access;
    else if (h.access != Access::kNone) ++holding.others;
  }
  return holding;
}

}  // namespace rrkit::crew
