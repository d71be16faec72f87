#include "crew/transfer_stats.h"

#include <algorithm>

namespace rrkit::crew {

void TransferStats::Add(const TransferEdge& edge) {
  std::lock_guard lock(mutex_);
  ++total_;
  ++per_page_[edge.page];
  ++per_pair_[{edge.from_vcpu, edge.to_vcpu}];
}

uint64_t TransferStats::total() const {
  std::lock_guard lock(mutex_);
  return total_;
}

uint64_t TransferStats::ForPage(uint64_t page) const {
  std::lock_guard lock(mutex_);
  auto it = per_page_.find(page);
  return it == per_page_.end() ? 0 : it->second;
}

uint64_t TransferStats::ForPair(uint32_t from_vcpu, uint32_t to_vcpu) const {
  std::lock_guard lock(mutex_);
  auto it = per_pair_.find({from_vcpu, to_vcpu});
  return it == per_pair_.end() ? 0 : it->second;
}

std::map<std::pair<uint32_t, uint32_t>, uint64_t> TransferStats::PerPair() const {
  std::lock_guard lock(mutex_);
  return per_pair_;
}

std::vector<TransferStats::PageCount> TransferStats::Hottest(size_t n) const {
  std::lock_guard lock(mutex_);
  std::vector<PageCount> all;
  all.reserve(per_page_.size());
  for (const auto& [page, count] : per_page_) all.push_back({page, count});
  const size_t k = std::min(n, all.size());
  std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(k), all.end(),
                    [](const PageCount& a, const PageCount& b) {
                      return a.transfers != b.transfers ? a.transfers > b.transfers : a.page < b.page;
                    });
  all.resize(k);
  return all;
}

}  // namespace rrkit::crew
