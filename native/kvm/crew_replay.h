// SMP replay on kvm: each vCPU follows the recorded transfers (crew::ReplayGate) and stops
// where the recording's vCPU stopped on a page (the log's CrewFaultRecords). Nothing else
// is protected: just before a recorded fault the replay takes that page away from the
// vCPU's mapping (write access for a write fault, all access for a read fault), so that
// the first access that needs it stops the vCPU at the same instruction as in the
// recording; there it checks the fault (the page, and that the instruction writes it if
// the recording's did), checks that as many edges lead into it as the recording said,
// waits at its gate and gives the page back (docs/kvm-smp.md).
//
// The log streams in: edges and faults arrive as the replay reads the log (AddEdge,
// AddFault, from whichever vCPU thread decodes), and each is dropped once followed. The
// machine reads each vCPU's log one landmark ahead of it (Machine::ReadAhead), so that
// everything logged at a landmark — its fault records, the edges into it — is here before
// the vCPU runs to it.
//
// With a shuffle seed (`rrkit verify --shuffle`), a vCPU that passed its gate at a landmark
// goes on at once, yields its core, or sleeps up to 200 µs, by the toss of a coin
// (machine/schedule_shuffle.h): the threads then meet the log's order from other sides.
//
// A log that cannot be followed is a divergence naming the vCPU and the landmark: an exit
// where the recording faulted or the reverse, another page, a missing or extra edge, or
// (from the gate) a stall.
#pragma once

#include <atomic>
#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "crew/replay_gate.h"
#include "kvm/page_rights.h"
#include "kvm/vcpu_ordering.h"
#include "machine/schedule_shuffle.h"
#include "replay/log_records.h"

namespace rrkit::kvm {

class CrewReplay final : public VcpuOrdering {
 public:
  // `shuffle_seed`: 0, or a shuffled replay's seed.
  CrewReplay(uint32_t vcpus, crew::PageGeometry geometry, std::vector<PageProtector*> protectors,
             crew::ReplayGate::Options gate_options, uint64_t shuffle_seed = 0);

  // As the log is read, in log order, from any thread. Throw replay::UnreplayableLog for
  // records no recording of this machine writes (a vCPU it lacks, an edge to itself, a
  // vCPU's faults out of order).
  void AddEdge(const replay::CrewTransferRecord& edge);
  void AddFault(const replay::CrewFaultRecord& fault);
  // Edges and faults read and not yet followed (they count towards the replay's lookahead).
  size_t Pending() const;
  // A cut where the recording went live (ReplayingWorld::Options::cuts_void_records_at_their_landmarks),
  // as it is read: the stops and edge counts held for each vCPU's landmark `cut[v]` are
  // void (read before the cut: that landmark was handled anew, live). The edges into it
  // stay: their predecessors are at or below their own landmarks in the cut, which the
  // machine reaches before anyone passes it.
  void Cut(const std::vector<uint64_t>& cut);

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
  void Reached(uint32_t v, uint64_t count) override { gate_->Publish(v, count); }
  std::vector<PageAccess> ArmedStop(uint32_t v) const override;
  void ArmEdgesInto(uint32_t v, uint64_t count) override;
  void Stop(bool abandon) override;

 private:
  struct Fault {
    uint64_t count;
    std::vector<replay::CrewFaultRecord> pages;  // one per page, all at `count`
  };
  struct Vcpu {
    mutable std::mutex mutex;  // faults: the decoding thread adds, the vCPU's own thread takes
    std::deque<Fault> faults;
    std::vector<PageAccess> armed_edges;  // ArmEdgesInto: pages taken away for a stop with no record
    uint64_t last_fault = 0;  // decoder only: the order check
    PageProtector* protector = nullptr;
    bool armed = false;  // under mutex: its next stop's pages are taken away
  };

  void WaitAtGate(uint32_t v, uint64_t count);
  // A shuffled replay's pause after a gate (none without a seed).
  void Shuffle();
  // The edges the log has into v's landmark `count`, forgotten once asked for.
  uint64_t TakeEdgesInto(uint32_t v, uint64_t count);

  crew::PageGeometry geometry_;
  std::unique_ptr<crew::ReplayGate> gate_;
  machine::ScheduleShuffle shuffle_;
  std::vector<std::unique_ptr<Vcpu>> vcpus_;
  std::atomic<size_t> faults_pending_{0};
  std::mutex edges_mutex_;
  struct EdgesInto {
    uint64_t count = 0;
    std::vector<uint64_t> pages;
  };
  std::map<std::pair<uint32_t, uint64_t>, EdgesInto> edges_into_;  // (vcpu, count) -> edges read
};

}  // namespace rrkit::kvm
