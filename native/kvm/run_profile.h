// Where a kvm run's host time goes, per vCPU (`RRKIT_KVM_PROFILE=1` in the environment: a
// summary on stderr when the run ends; otherwise nothing is timed). What it separates is
// what an SMP recording adds to a plain run (docs/kvm-smp.md, "Where the time goes"): the
// fixed costs of the machine's set-up, and per stop the entry into KVM that ends in EFAULT,
// decoding the instruction, waiting for the page (a running holder's next landmark, the
// hand-off between threads) and the mprotect calls that bring the mapping up to date.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace rrkit::kvm {

class RunProfile {
 public:
  // Nanoseconds spent in one kind of step, and how many steps.
  struct Bucket {
    uint64_t ns = 0;
    uint64_t count = 0;
    void Add(uint64_t elapsed) {
      ns += elapsed;
      ++count;
    }
  };
  // One vCPU's; only its own thread writes it.
  struct Hart {
    Bucket run_to_exit;     // KVM_RUN returning an exit (guest time included)
    Bucket run_to_fault;    // KVM_RUN failing with EFAULT (guest time included)
    Bucket decode;          // the instruction at rip decoded
    Bucket page_wait;       // VcpuOrdering::AtFault: acquiring (record) or the gate (replay)
    Bucket long_page_wait;  // those of them that took over kLongWait (a wait for another thread)
    Bucket before_run;      // VcpuOrdering::BeforeRun: the mapping brought up to date (mprotect)
    Bucket at_exit;         // VcpuOrdering::AtExit: serving requests (record), the gate (replay)
    Bucket handle_exit;     // the device access, interrupts
    Bucket spin_wait;       // the spin-wait hint
    Bucket halt;
    uint64_t protect_calls = 0;  // mprotect calls on its mapping
  };
  static constexpr uint64_t kLongWait = 20'000;  // ns

  // Whether RRKIT_KVM_PROFILE is set (read once).
  static bool Enabled();

  explicit RunProfile(bool enabled) : enabled_(enabled) {}
  bool enabled() const { return enabled_; }
  // Monotonic nanoseconds when enabled, else 0 (the buckets then stay empty).
  uint64_t Now() const {
    if (!enabled_) return 0;
    return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                     std::chrono::steady_clock::now().time_since_epoch())
                                     .count());
  }
  uint64_t Since(uint64_t start) const { return enabled_ ? Now() - start : 0; }

  // The machine's set-up before the first KVM_RUN: VMs and vCPUs, and the ordering's start
  // (CREW's start rights: the first mprotect calls).
  uint64_t setup_ns = 0;
  uint64_t vms_ns = 0;
  uint64_t ordering_ns = 0;

  // The summary, one line for the machine and one per vCPU.
  std::string Summary(const std::vector<const Hart*>& harts, double run_seconds) const;

 private:
  bool enabled_;
};

}  // namespace rrkit::kvm
