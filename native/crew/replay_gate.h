// CREW replay: each vCPU, before the instruction at count b, waits until every
// predecessor A of an edge A@a -> this@b has published a count >= a. Replay makes no
// permission checks and takes no decisions: it follows the recorded order.
//
// What the engine does, per vCPU thread:
//   - at every block boundary, and before it blocks: gate.Publish(v, count)
//     (a release store; it orders this vCPU's guest-memory writes before the waiter's);
//   - clips each block so that it stops at gate.NextWaitCount(v), and when
//     count == NextWaitCount(v) calls gate.WaitAt(v, count) before executing;
//   - when the vCPU stops for good: gate.Finish(v, count).
// A log that cannot progress raises ReplayStalled with a report of who waits on what:
// at once when a predecessor finished below the count it is waited for, or after
// `stall_timeout` without any vCPU advancing — or, when some vCPU is neither waiting here
// nor finished (it may be running a long stretch between landmarks), after
// `running_stall_timeout` if that is longer.
//
// An engine that runs vCPUs M:N on fewer threads must not block a thread in WaitAt. It
// calls TryPass instead; when that says no, the vCPU gives its thread up and the gate calls
// hooks.wake once it may pass. For that, each vCPU calls Reached(v, count) when it gets to
// WakeCount(v) (the smallest count some waiter needs from it; hooks.wanted says when that
// changed) and Finish when it stops. Such an engine detects a stall itself, when every vCPU
// waits (Stalled builds the report).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "crew/transfer_edge.h"

namespace rrkit::crew {

// Who was waiting on what when replay stopped progressing.
struct StallReport {
  struct Vcpu {
    uint32_t vcpu;
    uint64_t published;
    bool finished;
    bool waiting;
    uint64_t waiting_at;     // the instruction it is stopped before
    uint32_t waiting_for;    // the predecessor
    uint64_t waiting_for_count;
  };
  std::string reason;
  std::vector<Vcpu> vcpus;

  std::string ToString() const;
};

class ReplayStalled : public std::runtime_error {
 public:
  explicit ReplayStalled(StallReport r) : std::runtime_error(r.ToString()), report(std::move(r)) {}
  StallReport report;
};

class ReplayGate {
 public:
  static constexpr uint64_t kNever = UINT64_MAX;

  struct Options {
    std::chrono::milliseconds stall_timeout{2000};
    // An engine whose landmarks can be far apart (kvm: exits) gives a vCPU that is not
    // waiting at a gate this long to reach its next one; below stall_timeout it changes nothing.
    std::chrono::milliseconds running_stall_timeout{0};
  };

  // Edges to come: AddEdge() as the log is read (a streaming replay).
  ReplayGate(uint32_t vcpus, Options options);
  // All edges at once: validates them first (throws InvalidEdgeLog, see edge_validation.h).
  ReplayGate(uint32_t vcpus, const std::vector<TransferEdge>& edges,
             const std::optional<std::vector<uint64_t>>& final_counts, Options options);
  ReplayGate(uint32_t vcpus, const std::vector<TransferEdge>& edges)
      : ReplayGate(vcpus, edges, std::nullopt, Options{}) {}

  // From any thread, in log order: one more edge (throws InvalidEdgeLog for an unknown
  // vCPU or a self edge). A cycle cannot be seen from one edge; the log's order check
  // (ReplayingWorld) and the stall report catch it.
  void AddEdge(const TransferEdge& edge);
  // Waits added and not yet passed.
  size_t Pending() const { return pending_.load(std::memory_order_relaxed); }

  // The count before which `vcpu` must next stop and call WaitAt, or kNever.
  uint64_t NextWaitCount(uint32_t vcpu) const {
    const Vcpu& v = *vcpus_[vcpu];
    std::lock_guard lock(v.waits_mutex);
    return v.waits.empty() ? kNever : v.waits.front().to_count;
  }

  // Blocks `vcpu`, stopped before instruction `count` (== NextWaitCount), until its
  // predecessors there have passed. Throws ReplayStalled.
  void WaitAt(uint32_t vcpu, uint64_t count);

  // What an M:N engine gives the gate (see above). Both are called without the gate's locks.
  struct WakeHooks {
    std::function<void(uint32_t waiter)> wake;        // may pass now: run it, it calls TryPass again
    std::function<void(uint32_t predecessor)> wanted;  // its WakeCount went down
  };
  void SetWakeHooks(WakeHooks hooks) { hooks_ = std::move(hooks); }
  // WaitAt without blocking: true when `vcpu` may run the instruction at `count`
  // (== NextWaitCount); false when it must wait (hooks.wake follows). Throws ReplayStalled.
  bool TryPass(uint32_t vcpu, uint64_t count);
  // The smallest count a waiter needs `vcpu` to reach, or kNever.
  uint64_t WakeCount(uint32_t vcpu) const { return vcpus_[vcpu]->wake_count.load(std::memory_order_acquire); }
  // `vcpu` is at `count` (it publishes it): wakes whoever waited for it to get here.
  void Reached(uint32_t vcpu, uint64_t count);
  // Every vCPU waits and none can move: the report, kept as the gate's failure.
  StallReport Stalled(const std::string& reason);

  void Publish(uint32_t vcpu, uint64_t count) { vcpus_[vcpu]->published.store(count, std::memory_order_release); }
  void Finish(uint32_t vcpu, uint64_t count);
  // The machine is stopping for another reason: every WaitAt, now or later, throws.
  void Cancel();

  uint64_t Published(uint32_t vcpu) const { return vcpus_[vcpu]->published.load(std::memory_order_acquire); }

 private:
  struct Wait {
    uint64_t to_count;
    uint32_t from_vcpu;
    uint64_t from_count;
  };

  struct alignas(64) Vcpu {
    std::atomic<uint64_t> published{0};
    std::atomic<bool> finished{false};
    // For the stall report; written by the owner, read by whoever reports.
    std::atomic<bool> waiting{false};
    std::atomic<uint64_t> waiting_at{0};
    std::atomic<uint32_t> waiting_for{0};
    std::atomic<uint64_t> waiting_for_count{0};
    // Taken by the owner thread, added by whichever thread reads the log.
    mutable std::mutex waits_mutex;
    std::deque<Wait> waits;  // by to_count
    // M:N: who waits for this vCPU to reach a count (TryPass), and the smallest such count.
    std::mutex waiters_mutex;
    std::vector<std::pair<uint32_t, uint64_t>> waiters;
    std::atomic<uint64_t> wake_count{kNever};
  };

  void WaitFor(Vcpu& me, uint64_t count, const Wait& wait);
  uint64_t ProgressSignature() const;
  StallReport Report(const std::string& reason) const;
  bool EveryOtherVcpuWaitsOrFinished(const Vcpu& me) const;
  [[noreturn]] void Fail(const std::string& reason);
  void WakeAllWaiters(uint32_t vcpu);

  WakeHooks hooks_;

  std::vector<std::unique_ptr<Vcpu>> vcpus_;
  Options options_;
  std::atomic<size_t> pending_{0};
  std::atomic<bool> failed_{false};
  std::mutex failure_mutex_;
  std::optional<StallReport> failure_;  // the first failure, rethrown to every waiter
};

}  // namespace rrkit::crew
