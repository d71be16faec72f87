#include "crew/edge_validation.h"

#include <algorithm>
#include <sstream>

namespace rrkit::crew {
namespace {

std::string Describe(const TransferEdge& e) {
  std::ostringstream s;
  s << "page " << e.page << ": vcpu " << e.from_vcpu << " @ " << e.from_count << " -> vcpu " << e.to_vcpu << " @ "
    << e.to_count;
  return s.str();
}

// The wait-for graph. A node is a gate: a vCPU stopped before an instruction that has
// incoming edges. Gate (B, b) with edge A@a -> B@b waits for A to publish a, i.e. for A to
// pass its gates below a; it suffices to point at A's last gate below a, since each gate
// also waits for the previous one of its own vCPU. A cycle here is a replay deadlock.
class WaitGraph {
 public:
  WaitGraph(uint32_t vcpus, const std::vector<TransferEdge>& edges) : gates_(vcpus) {
    for (const TransferEdge& e : edges) gates_[e.to_vcpu].push_back(e.to_count);
    for (auto& g : gates_) {
      std::sort(g.begin(), g.end());
      g.erase(std::unique(g.begin(), g.end()), g.end());
    }
    for (uint32_t v = 0; v < vcpus; ++v) {
      first_.push_back(static_cast<uint32_t>(counts_.size()));
      for (uint64_t c : gates_[v]) {
        counts_.push_back(c);
        vcpu_of_.push_back(v);
      }
    }
    out_.resize(counts_.size());
    for (uint32_t n = 0; n < counts_.size(); ++n) {
      if (n > first_[vcpu_of_[n]]) out_[n].push_back({n - 1, nullptr});  // program order
    }
    for (const TransferEdge& e : edges) {
      auto last_below = LastGateBelow(e.from_vcpu, e.from_count);
      if (last_below) out_[Node(e.to_vcpu, e.to_count)].push_back({*last_below, &e});
    }
  }

  // A description of one cycle, or empty.
  std::string FindCycle() const {
    enum Color : uint8_t { kWhite, kGrey, kBlack };
    std::vector<Color> color(counts_.size(), kWhite);
    std::vector<std::pair<uint32_t, size_t>> stack;  // node, next out-edge to try
    for (uint32_t root = 0; root < counts_.size(); ++root) {
      if (color[root] != kWhite) continue;
      stack.push_back({root, 0});
      color[root] = kGrey;
      while (!stack.empty()) {
        auto& [node, next] = stack.back();
        if (next == out_[node].size()) {
          color[node] = kBlack;
          stack.pop_back();
          continue;
        }
        const Arc arc = out_[node][next++];
        if (color[arc.to] == kWhite) {
          color[arc.to] = kGrey;
          stack.push_back({arc.to, 0});
        } else if (color[arc.to] == kGrey) {
          return DescribeCycle(stack, arc.to);
        }
      }
    }
    return {};
  }

 private:
  struct Arc {
    uint32_t to;
    const TransferEdge* edge;  // null for program order
  };

  uint32_t Node(uint32_t vcpu, uint64_t count) const {
    const auto& g = gates_[vcpu];
    return first_[vcpu] + static_cast<uint32_t>(std::lower_bound(g.begin(), g.end(), count) - g.begin());
  }

  std::optional<uint32_t> LastGateBelow(uint32_t vcpu, uint64_t count) const {
    const auto& g = gates_[vcpu];
    auto it = std::lower_bound(g.begin(), g.end(), count);
    if (it == g.begin()) return std::nullopt;
    return first_[vcpu] + static_cast<uint32_t>(it - g.begin() - 1);
  }

  std::string DescribeCycle(const std::vector<std::pair<uint32_t, size_t>>& stack, uint32_t start) const {
    std::ostringstream s;
    bool in_cycle = false;
    for (const auto& [node, next] : stack) {
      if (node == start) in_cycle = true;
      if (!in_cycle) continue;
      const Arc& arc = out_[node][next - 1];
      s << "\n  vcpu " << vcpu_of_[node] << " @ " << counts_[node] << " waits for ";
      if (arc.edge != nullptr) {
        s << "vcpu " << arc.edge->from_vcpu << " to reach " << arc.edge->from_count << " (" << Describe(*arc.edge) << ")";
      } else {
        s << "its own earlier gate @ " << counts_[arc.to];
      }
    }
    return s.str();
  }

  std::vector<std::vector<uint64_t>> gates_;
  std::vector<uint32_t> first_;
  std::vector<uint64_t> counts_;
  std::vector<uint32_t> vcpu_of_;
  std::vector<std::vector<Arc>> out_;
};

}  // namespace

void ValidateEdges(uint32_t vcpus, const std::vector<TransferEdge>& edges,
                   const std::optional<std::vector<uint64_t>>& final_counts) {
  if (final_counts && final_counts->size() != vcpus) {
    throw InvalidEdgeLog("CREW log: " + std::to_string(final_counts->size()) + " final landmarks for " +
                         std::to_string(vcpus) + " vCPUs");
  }
  for (const TransferEdge& e : edges) {
    if (e.from_vcpu >= vcpus || e.to_vcpu >= vcpus) {
      throw InvalidEdgeLog("CREW log: edge names a vCPU the machine lacks (it has " + std::to_string(vcpus) +
                           "): " + Describe(e));
    }
    if (e.from_vcpu == e.to_vcpu) throw InvalidEdgeLog("CREW log: edge from a vCPU to itself: " + Describe(e));
    if (final_counts) {
      const auto& f = *final_counts;
      if (e.from_count > f[e.from_vcpu] || e.to_count > f[e.to_vcpu]) {
        throw InvalidEdgeLog("CREW log: edge past the end of a vCPU's execution (vcpu " + std::to_string(e.from_vcpu) +
                             " ends @ " + std::to_string(f[e.from_vcpu]) + ", vcpu " + std::to_string(e.to_vcpu) +
                             " ends @ " + std::to_string(f[e.to_vcpu]) + "; truncated log?): " + Describe(e));
      }
    }
  }
  std::string cycle = WaitGraph(vcpus, edges).FindCycle();
  if (!cycle.empty()) throw InvalidEdgeLog("CREW log: edges form a cycle, replay would deadlock:" + cycle);
}

}  // namespace rrkit::crew
