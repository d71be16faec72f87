// SMP replay on kvm: each vCPU follows the recorded transfers (crew::ReplayGate) and stops
// where the recording's vCPU stopped on a page (the log's CrewFaultRecords). Nothing else
// is protected: just before a recorded fault the replay takes that page away from the
// vCPU's mapping (write access for a write fault, all access for a read fault), so that
// the first access that needs it stops the vCPU at the same instruction as in the
// recording; there it checks the fault (the page, and that the instruction writes it if
// the recording's did), checks that as many edges lead into it as the recording said,
// waits at its gate and gives the page back (docs/kvm-smp.md).
//
// A log that cannot be followed is a divergence naming the vCPU and the landmark: an exit
// where the recording faulted or the reverse, another page, a missing or extra edge, or
// (from the gate) a stall.
#pragma once

#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <tuple>
#include <vector>

#include "crew/replay_gate.h"
#include "kvm/page_rights.h"
#include "kvm/vcpu_ordering.h"
#include "replay/log_records.h"

namespace rrkit::kvm {

class CrewReplay final : public VcpuOrdering {
 public:
  // Throws crew::InvalidEdgeLog for edges that cannot be followed (see edge_validation.h),
  // std::invalid_argument for a fault naming a vCPU the machine lacks.
  CrewReplay(uint32_t vcpus, crew::PageGeometry geometry, const std::vector<replay::CrewTransferRecord>& edges,
             const std::vector<replay::CrewFaultRecord>& faults, const std::optional<std::vector<uint64_t>>& final_counts,
             std::vector<PageProtector*> protectors, crew::ReplayGate::Options gate_options);

  const crew::PageGeometry& geometry() const override { return geometry_; }
  void BeforeRun(uint32_t v, uint64_t count) override;
  bool Protects(uint32_t v, std::span<const PageAccess> needed) const override;
  void AtExit(uint32_t v, uint64_t count) override;
  bool AtFault(uint32_t v, uint64_t count, std::span<const PageAccess> needed, bool stop_here) override;
  bool GuestAccess(uint32_t, uint64_t, uint64_t, uint64_t, bool) override { return true; }
  bool SharedDevice(uint32_t, uint64_t) override { return true; }
  void SpinWait(uint32_t v, uint64_t count) override;
  void Halted(uint32_t, uint64_t, const std::function<void()>& wait) override { wait(); }
  void Finished(uint32_t v, uint64_t count) override;
  void Stop(bool abandon) override;

 private:
  struct Fault {
    uint64_t count;
    std::vector<replay::CrewFaultRecord> pages;  // one per page, all at `count`
  };
  struct Vcpu {
    std::deque<Fault> faults;
    PageProtector* protector = nullptr;
    bool armed = false;
  };

  void WaitAtGate(uint32_t v, uint64_t count);

  crew::PageGeometry geometry_;
  std::unique_ptr<crew::ReplayGate> gate_;
  std::vector<Vcpu> vcpus_;
  std::map<std::pair<uint32_t, uint64_t>, uint64_t> edges_into_;  // (vcpu, count) -> edges in the log
};

}  // namespace rrkit::kvm
