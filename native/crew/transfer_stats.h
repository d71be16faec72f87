// Counts of ownership transfers: per page, per (from, to) vCPU pair, and the hottest
// pages. Feed it from the TransferSink (recording) or from a log (analysis). Thread safe.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <utility>
#include <vector>

#include "crew/transfer_edge.h"

namespace rrkit::crew {

class TransferStats {
 public:
  struct PageCount {
    uint64_t page;
    uint64_t transfers;
  };

  void Add(const TransferEdge& edge);

  uint64_t total() const;
  uint64_t ForPage(uint64_t page) const;
  uint64_t ForPair(uint32_t from_vcpu, uint32_t to_vcpu) const;
  std::map<std::pair<uint32_t, uint32_t>, uint64_t> PerPair() const;
  // The `n` pages with the most transfers, most first (ties by page number).
  std::vector<PageCount> Hottest(size_t n) const;

 private:
  mutable std::mutex mutex_;
  uint64_t total_ = 0;
  std::map<uint64_t, uint64_t> per_page_;
  std::map<std::pair<uint32_t, uint32_t>, uint64_t> per_pair_;
};

}  // namespace rrkit::crew
