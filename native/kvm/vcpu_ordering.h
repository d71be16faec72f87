// How the vCPUs of an SMP kvm machine are ordered against each other (docs/kvm-smp.md):
// what the machine calls at each vCPU's landmarks. Recording runs CREW over host page
// protection (CrewRecording); replay follows the recorded transfers (CrewReplay); a plain
// run or a single vCPU needs neither (no object at all).
//
// A landmark is an exit or a CREW fault: a stop on an access the vCPU's host mapping did
// not allow (KVM_RUN failing with EFAULT, or on the PVM backend an emulated CPL0 access
// exiting as MMIO inside RAM). Each call is made on vCPU `v`'s own thread at its landmark
// `count` unless said otherwise.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "crew/page_geometry.h"
#include "kvm/access_decoder.h"

namespace rrkit::kvm {

// A CREW page an instruction touches, and whether it writes it.
struct PageAccess {
  uint64_t page = 0;
  bool write = false;
  bool operator==(const PageAccess&) const = default;
};

// The CREW pages that `accesses` touch inside [first_address, end_address) (RAM above
// the VMM's low memory), each once, with write if any access writes it.
std::vector<PageAccess> PagesTouched(const crew::PageGeometry& geometry, std::span<const MemoryAccess> accesses,
                                     uint64_t first_address, uint64_t end_address);

class VcpuOrdering {
 public:
  virtual ~VcpuOrdering() = default;

  // How guest-physical addresses map to CREW pages.
  virtual const crew::PageGeometry& geometry() const = 0;

  // Before each KVM_RUN: bring v's host mapping up to date with its rights.
  virtual void BeforeRun(uint32_t v, uint64_t count) = 0;
  // v took an exit; before the exit is handled. May block (replay: until the vCPUs it
  // follows have passed their landmarks).
  virtual void AtExit(uint32_t v, uint64_t count) = 0;
  // v stopped on an access its mapping did not allow; `needed`: every page the stopped
  // instruction touches. Returns when v may run the instruction; false if the machine is
  // stopping (v then stops at this landmark). `stop_here`: v stops at this landmark
  // anyway (the fault is still recorded, so that replay stops there too).
  virtual bool AtFault(uint32_t v, uint64_t count, std::span<const PageAccess> needed, bool stop_here) = 0;
  // Whether v's mapping keeps it from some access in `needed` now: on the PVM backend an
  // emulated CPL0 instruction that KVM cannot complete on a protected page (a locked one)
  // ends as an emulation failure rather than an MMIO exit; this tells that apart from a
  // real one.
  virtual bool Protects(uint32_t v, std::span<const PageAccess> needed) const = 0;
  // At an exit, the VMM is about to touch guest memory on v's behalf (the console buffer,
  // DMA) or state other vCPUs share (the console). False if the machine is stopping.
  virtual bool GuestAccess(uint32_t v, uint64_t count, uint64_t address, uint64_t length, bool write) = 0;
  virtual bool SharedDevice(uint32_t v, uint64_t count) = 0;
  // The spin-wait hint at an exit: let the vCPUs doing work run.
  virtual void SpinWait(uint32_t v, uint64_t count) = 0;
  // v halted at its exit `count` and `wait` blocks until it can go on (an interrupt is
  // due, or the machine stops; it may throw): recording runs it with v parked, so that
  // others take its pages without waiting for it.
  virtual void Halted(uint32_t v, uint64_t count, const std::function<void()>& wait) = 0;
  // v stopped for good at `count`.
  virtual void Finished(uint32_t v, uint64_t count) = 0;
  // v has reached landmark `count` and waits there before handling it (replay: a cut), so
  // whoever follows it from there may pass.
  virtual void Reached(uint32_t v, uint64_t count) {
    (void)v;
    (void)count;
  }
  // Replay: the pages v's current or next stop takes away from its mapping, while they are
  // taken; none otherwise.
  virtual std::vector<PageAccess> ArmedStop(uint32_t v) const {
    (void)v;
    return {};
  }
  // Replay of a log that ended: v's next landmark `count` is its last in the log. If the log
  // holds no stop there but edges into it, a stop's fault record may be what it lost (the
  // edges come first): take away the pages those edges name (the page the stop wanted and
  // those that came along, all of which v lacked), so that v stops at its first access to
  // one of them, before any access the lost record would have ordered.
  virtual void ArmEdgesInto(uint32_t v, uint64_t count) {
    (void)v;
    (void)count;
  }
  // Replay then live (recording on): the machine went live with v stopped on reaching its
  // landmark `count`, not yet handled (docs/kvm-smp.md, "Going live"); `armed`: if that is a
  // stop, the pages the replay had taken away for it (ArmedStop). The stop is then logged
  // with those pages (nothing before it in the stretch touched them) and every edge its
  // acquisitions bring, so that the next log's replay stops at the same instruction.
  virtual void WentLiveAt(uint32_t v, uint64_t count, std::vector<PageAccess> armed) {
    (void)v;
    (void)count;
    (void)armed;
  }
  // The machine is stopping. `abandon` (a fault, the timeout, a divergence): nobody waits
  // for a page or a predecessor any more. Otherwise (the guest exited) the vCPUs stop at
  // their next landmarks, so only sleepers are woken. Any thread.
  virtual void Stop(bool abandon) = 0;
};

}  // namespace rrkit::kvm
