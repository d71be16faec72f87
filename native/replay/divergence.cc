#include "replay/divergence.h"

#include <cstdio>

#include "replay/world.h"

namespace rrkit::replay {
namespace {

std::string Hex(uint64_t value) {
  char text[24];
  std::snprintf(text, sizeof text, "0x%016llx", static_cast<unsigned long long>(value));
  return text;
}

std::string At(uint64_t count) { return "@ " + std::to_string(count); }

}  // namespace

std::string DescribeDivergence(const Divergence& d, std::string_view landmark_name) {
  return "replay diverged at vcpu " + std::to_string(d.at.vcpu) + " @ " + std::string(landmark_name) + " " +
         std::to_string(d.at.count) + ": " + d.what + ": expected " + d.expected + ", actual " + d.actual;
}

Divergence ExitNotReached(Landmark at) {
  return Divergence{at, "exit", "the guest's exit, as recorded", "every vCPU reached its recorded end without it"};
}

std::vector<Divergence> CompareCheckpoints(const Checkpoint& expected, const Checkpoint& actual) {
  std::vector<Divergence> out;
  if (expected.vcpus.size() != actual.vcpus.size()) {
    out.push_back({{0, 0}, "vcpu count", std::to_string(expected.vcpus.size()), std::to_string(actual.vcpus.size())});
    return out;
  }
  for (size_t i = 0; i < expected.vcpus.size(); ++i) {
    const auto& e = expected.vcpus[i];
    const auto& a = actual.vcpus[i];
    if (e.at.vcpu != a.at.vcpu || e.at.count != a.at.count) {
      out.push_back({a.at, "landmark", "vcpu " + std::to_string(e.at.vcpu) + " " + At(e.at.count),
                     "vcpu " + std::to_string(a.at.vcpu) + " " + At(a.at.count)});
    }
    if (e.register_hash != a.register_hash) out.push_back({a.at, "register hash", Hex(e.register_hash), Hex(a.register_hash)});
  }
  if (expected.memory_hash != actual.memory_hash) {
    const Landmark at = actual.vcpus.empty() ? Landmark{} : actual.vcpus.front().at;
    out.push_back({at, "memory hash", Hex(expected.memory_hash), Hex(actual.memory_hash)});
  }
  return out;
}

}  // namespace rrkit::replay
