#include "crew/ownership_table.h"

#include <algorithm>

namespace rrkit::crew {
namespace {

void Merge(std::vector<Landmark>& into, const std::vector<Landmark>& more) {
  into.insert(into.end(), more.begin(), more.end());
}

constexpr uint32_t kNobody = UINT32_MAX;

// One landmark per vCPU, the latest; none from `self` (program order already covers it).
std::vector<Landmark> Latest(std::vector<Landmark> order, uint32_t self) {
  std::sort(order.begin(), order.end(), [](const Landmark& a, const Landmark& b) {
    return a.vcpu != b.vcpu ? a.vcpu < b.vcpu : a.count > b.count;
  });
  std::vector<Landmark> out;
  for (const Landmark& l : order) {
    if (l.vcpu == self || (!out.empty() && out.back().vcpu == l.vcpu)) continue;
    out.push_back(l);
  }
  return out;
}

}  // namespace

std::vector<uint32_t> OwnershipTable::Conflicts(uint64_t page, uint32_t vcpu, Access want) const {
  std::vector<uint32_t> out;
  auto it = pages_.find(page);
  if (it == pages_.end()) return out;
  for (const Holder& h : it->second.holders) {
    if (h.vcpu == vcpu) continue;
    if (want == Access::kWrite || h.access == Access::kWrite) out.push_back(h.vcpu);
  }
  return out;
}

void OwnershipTable::Yield(uint64_t page, uint32_t holder, Access keep, uint64_t at) {
  Page& p = pages_[page];
  auto it = std::find_if(p.holders.begin(), p.holders.end(), [&](const Holder& h) { return h.vcpu == holder; });
  if (it == p.holders.end() || it->access <= keep) return;
  std::vector<Landmark> yielded{{holder, at}};
  if (at == it->since) Merge(yielded, it->inbound);
  if (it->access == Access::kWrite) {
    p.write_ended = std::move(yielded);  // it followed the previous ones when it was granted
  } else {
    Merge(p.reads_ended, yielded);
    p.reads_ended = Latest(std::move(p.reads_ended), kNobody);
  }
  if (keep == Access::kNone) {
    p.holders.erase(it);
  } else {
    it->access = keep;
  }
}

std::vector<Landmark> OwnershipTable::Grant(uint64_t page, uint32_t vcpu, Access want, uint64_t at) {
  Page& p = pages_[page];
  std::vector<Landmark> order = p.write_ended;
  if (want == Access::kWrite) {
    Merge(order, p.reads_ended);
    // From here on, this writer stands for them: whoever follows it follows them too.
    p.write_ended.clear();
    p.reads_ended.clear();
  }
  std::vector<Landmark> edges = Latest(std::move(order), vcpu);
  auto it = std::find_if(p.holders.begin(), p.holders.end(), [&](const Holder& h) { return h.vcpu == vcpu; });
  if (it == p.holders.end()) {
    p.holders.push_back(Holder{vcpu, want, at, edges});
  } else if (it->access < want) {
    // An upgrade: what it was ordered after as a reader still holds (program order).
    *it = Holder{vcpu, want, at, edges};
  }
  return edges;
}

Access OwnershipTable::HolderAccess(uint64_t page, uint32_t vcpu) const {
  auto it = pages_.find(page);
  if (it == pages_.end()) return Access::kNone;
  for (const Holder& h : it->second.holders) {
    if (h.vcpu == vcpu) return h.access;
  }
  return Access::kNone;
}

}  // namespace rrkit::crew
