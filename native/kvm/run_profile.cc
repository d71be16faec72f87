#include "kvm/run_profile.h"

#include <cstdio>
#include <cstdlib>

namespace rrkit::kvm {
namespace {

double Ms(uint64_t ns) { return static_cast<double>(ns) / 1e6; }

std::string Part(const char* name, const RunProfile::Bucket& b) {
  char text[96];
  std::snprintf(text, sizeof text, " %s %.1f ms/%llu", name, Ms(b.ns), static_cast<unsigned long long>(b.count));
  return text;
}

}  // namespace

bool RunProfile::Enabled() {
  static const bool enabled = [] {
    const char* value = std::getenv("RRKIT_KVM_PROFILE");
    return value != nullptr && *value != '\0' && std::string(value) != "0";
  }();
  return enabled;
}

std::string RunProfile::Summary(const std::vector<const Hart*>& harts, double run_seconds) const {
  char head[192];
  std::snprintf(head, sizeof head, "kvm profile: %zu vCPUs, set-up %.1f ms (VMs %.1f, ordering %.1f), run %.1f ms\n",
                harts.size(), Ms(setup_ns), Ms(vms_ns), Ms(ordering_ns), run_seconds * 1e3);
  std::string text = head;
  for (size_t v = 0; v < harts.size(); ++v) {
    const Hart& h = *harts[v];
    text += "  vcpu " + std::to_string(v) + ":" + Part("run>exit", h.run_to_exit) + Part("run>fault", h.run_to_fault) +
            Part("decode", h.decode) + Part("page-wait", h.page_wait) + Part("long-waits", h.long_page_wait) +
            Part("before-run", h.before_run) + Part("at-exit", h.at_exit) + Part("exit", h.handle_exit) +
            Part("spin", h.spin_wait) + Part("halt", h.halt) + " mprotect " + std::to_string(h.protect_calls) + "\n";
  }
  return text;
}

}  // namespace rrkit::kvm
