#include "kvm/page_rights.h"

#include <sys/mman.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

namespace rrkit::kvm {

void MappingProtector::Protect(uint64_t first, uint64_t count, crew::Access access) {
  const int prot = access == crew::Access::kWrite ? PROT_READ | PROT_WRITE : access == crew::Access::kRead ? PROT_READ : PROT_NONE;
  const uint64_t start = first * granularity_;
  const uint64_t length = std::min(count * granularity_, mapping_.size() - std::min(start, mapping_.size()));
  if (length == 0) return;
  ++calls_;
  if (mprotect(mapping_.host() + start, length, prot) != 0) {
    throw std::runtime_error("mprotect of guest RAM at " + std::to_string(start) + " (+" + std::to_string(length) +
                             " bytes) for a vCPU's mapping: " + std::strerror(errno));
  }
}

void PendingRights::Note(uint64_t page, crew::Access access) {
  std::lock_guard lock(mutex_);
  changes_.emplace_back(page, access);
}

size_t PendingRights::Apply(PageProtector& protector) {
  {
    std::lock_guard lock(mutex_);
    if (changes_.empty()) return 0;
    scratch_.swap(changes_);
  }
  // The last change per page counts: stable sort by page, then keep each page's last entry.
  std::stable_sort(scratch_.begin(), scratch_.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  size_t kept = 0;
  for (size_t i = 0; i < scratch_.size(); ++i) {
    if (i + 1 < scratch_.size() && scratch_[i + 1].first == scratch_[i].first) continue;
    scratch_[kept++] = scratch_[i];
  }
  scratch_.resize(kept);
  size_t calls = 0;
  for (size_t i = 0; i < scratch_.size();) {
    size_t j = i + 1;
    while (j < scratch_.size() && scratch_[j].first == scratch_[j - 1].first + 1 && scratch_[j].second == scratch_[i].second) ++j;
    protector.Protect(scratch_[i].first, j - i, scratch_[i].second);
    ++calls;
    i = j;
  }
  scratch_.clear();
  return calls;
}

}  // namespace rrkit::kvm
