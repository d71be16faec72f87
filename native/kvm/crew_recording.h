// SMP recording on kvm: CREW (native/crew/) with each vCPU's rights enforced by the
// protection of its own host mapping of guest RAM (one VM per vCPU over one memfd).
//
// Transfers happen only at landmarks (docs/kvm-smp.md): a vCPU that faults waits in
// Crew::Acquire; a holder that is stopped (faulted, parked, spin-waiting) gives the page up
// at once, at its landmark; a running holder at its next one (an exit polls CREW, a fault
// serves requests on the way in). Every fault is logged (a CrewFaultRecord, so that replay
// can stop there too) with the number of edges that lead into it; edges go to the log as
// CrewTransferRecords.
//
// Rights at the start, the same in every run (the image is): nobody holds RAM, except
// that every vCPU may read the image's code and constants (below __writable_start) and
// each vCPU owns its own hart area (stacks, IDT, hart-local data), so that interrupt
// delivery never meets a protected page.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <vector>

#include "crew/crew.h"
#include "kvm/page_rights.h"
#include "kvm/vcpu_ordering.h"
#include "replay/log_records.h"

namespace rrkit::kvm {

struct CrewLayout {
  uint32_t vcpus = 2;
  uint64_t ram_bytes = 0;
  uint64_t granularity = 4096;
  uint64_t image_start = 0;      // the VMM's low memory ends here: below it, nothing is protected
  uint64_t writable_start = 0;   // image code and constants below: every vCPU reads them from the start
  uint64_t hart_areas = 0;       // vCPU v owns [hart_areas + v * hart_area_bytes, + hart_area_bytes)
  uint64_t hart_area_bytes = 0;
  // A stop also takes up to this many following pages, where that needs no wait
  // (crew::Crew::Acquire's `along`; docs/kvm-smp.md, "Pages along a stop"); 0: none.
  uint32_t along = kAlongPages;
  // A vCPU whose stop comes right where the pages of its previous stop ended (a sequential
  // sweep) asks for twice as many (plus one) as that stop did, up to this many bytes' worth.
  uint64_t along_max_bytes = kAlongMaxBytes;
  static constexpr uint32_t kAlongPages = 15;
  static constexpr uint64_t kAlongMaxBytes = uint64_t{1} << 20;
};

class CrewRecording final : public VcpuOrdering {
 public:
  using FaultSink = std::function<void(const replay::CrewFaultRecord&)>;

  // `protectors[v]` sets vCPU v's mapping; they outlive this. Sinks are called from vCPU
  // threads (edges under CREW's lock).
  CrewRecording(const CrewLayout& layout, std::vector<PageProtector*> protectors, crew::TransferSink edges, FaultSink faults);

  const crew::PageGeometry& geometry() const override { return crew_->geometry(); }
  // The page that stands for the console (output from several vCPUs is ordered like memory).
  uint64_t console_page() const { return console_page_; }
  const crew::PermissionTable& Permissions(uint32_t v) const { return crew_->Permissions(v); }

  void BeforeRun(uint32_t v, uint64_t count) override;
  bool Protects(uint32_t v, std::span<const PageAccess> needed) const override;
  void AtExit(uint32_t v, uint64_t count) override;
  bool AtFault(uint32_t v, uint64_t count, std::span<const PageAccess> needed, bool stop_here) override;
  bool GuestAccess(uint32_t v, uint64_t count, uint64_t address, uint64_t length, bool write) override;
  bool SharedDevice(uint32_t v, uint64_t count) override;
  void SpinWait(uint32_t v, uint64_t count) override;
  void Halted(uint32_t v, uint64_t count, const std::function<void()>& wait) override;
  void Finished(uint32_t v, uint64_t count) override;
  void WentLiveAt(uint32_t v, uint64_t count, std::vector<PageAccess> armed) override {
    vcpus_[v]->went_live_at = count;
    vcpus_[v]->went_live_stop = std::move(armed);
  }
  void Stop(bool abandon) override;

  // Protect calls made so far on v's mapping by BeforeRun (for statistics and tests).
  uint64_t protect_calls(uint32_t v) const { return vcpus_[v]->protect_calls; }

 private:
  struct Vcpu {
    std::atomic<uint32_t> attention{0};
    PendingRights pending;
    PageProtector* protector = nullptr;
    std::atomic<uint64_t> edges_in{0};  // edges into its current grant and the pages along it (the sink counts them)
    uint64_t protect_calls = 0;
    uint64_t went_live_at = UINT64_MAX;  // WentLiveAt
    std::vector<PageAccess> went_live_stop;
    // Its sweep (Window): where the pages its last stop gained ended, with which access,
    // and how many pages along that stop asked for.
    uint64_t sweep_end = UINT64_MAX;
    bool sweep_write = false;
    uint32_t window = 0;
  };

  // The stop where v went live (WentLiveAt): logged with the replay's pages.
  bool AtStopWhereLive(uint32_t v, uint64_t count, std::span<const PageAccess> needed);

  bool Gain(uint32_t v, uint64_t page, bool write, uint64_t count);
  uint32_t AlongLimit(uint64_t page) const;
  // How many pages along v's stop on `page` asks for: the base, or more along a sweep.
  uint32_t Window(Vcpu& me, uint64_t page, bool write);
  // After v gained `page`: where the run of pages it now holds from there ends.
  void NoteSweep(uint32_t v, uint64_t page, bool write, uint32_t window);

  CrewLayout layout_;
  uint64_t console_page_;
  uint32_t along_max_;  // pages
  std::vector<std::unique_ptr<Vcpu>> vcpus_;
  crew::TransferSink edges_;
  FaultSink faults_;
  std::unique_ptr<crew::Crew> crew_;
};

}  // namespace rrkit::kvm
