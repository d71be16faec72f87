#include "crew/replay_gate.h"

#include <algorithm>
#include <sstream>
#include <thread>

#include "crew/edge_validation.h"

namespace rrkit::crew {

std::string StallReport::ToString() const {
  std::ostringstream s;
  s << "CREW replay cannot progress: " << reason;
  for (const Vcpu& v : vcpus) {
    s << "\n  vcpu " << v.vcpu << ": ";
    if (v.waiting) {
      s << "@ " << v.waiting_at << " waiting for vcpu " << v.waiting_for << " to reach " << v.waiting_for_count
        << " (it is at " << vcpus[v.waiting_for].published << (vcpus[v.waiting_for].finished ? ", finished" : "")
        << ")";
    } else {
      s << (v.finished ? "finished @ " : "running, published ") << v.published;
    }
  }
  return s.str();
}

ReplayGate::ReplayGate(uint32_t vcpus, const std::vector<TransferEdge>& edges,
                       const std::optional<std::vector<uint64_t>>& final_counts, Options options)
    : options_(options) {
  ValidateEdges(vcpus, edges, final_counts);
  for (uint32_t v = 0; v < vcpus; ++v) vcpus_.push_back(std::make_unique<Vcpu>());
  for (const TransferEdge& e : edges) {
    if (e.from_count == 0) continue;  // already satisfied at the start
    vcpus_[e.to_vcpu]->waits.push_back(Wait{e.to_count, e.from_vcpu, e.from_count});
  }
  for (auto& v : vcpus_) {
    std::sort(v->waits.begin(), v->waits.end(),
              [](const Wait& a, const Wait& b) { return a.to_count < b.to_count; });
  }
}

void ReplayGate::WaitAt(uint32_t vcpu, uint64_t count) {
  Vcpu& me = *vcpus_[vcpu];
  Publish(vcpu, count);
  // Skip gates a caller passed without stopping (it may start past them, e.g. at 0).
  while (me.next < me.waits.size() && me.waits[me.next].to_count < count) ++me.next;
  for (; me.next < me.waits.size() && me.waits[me.next].to_count == count; ++me.next) {
    WaitFor(me, count, me.waits[me.next]);
  }
}

void ReplayGate::Finish(uint32_t vcpu, uint64_t count) {
  Publish(vcpu, count);
  vcpus_[vcpu]->finished.store(true, std::memory_order_release);
}

void ReplayGate::Cancel() {
  std::lock_guard lock(failure_mutex_);
  if (failure_) return;
  failure_ = StallReport{"the machine stopped", {}};
  failed_.store(true, std::memory_order_release);
}

void ReplayGate::WaitFor(Vcpu& me, uint64_t count, const Wait& wait) {
  const Vcpu& pred = *vcpus_[wait.from_vcpu];
  if (pred.published.load(std::memory_order_acquire) >= wait.from_count) return;

  me.waiting_at.store(count, std::memory_order_relaxed);
  me.waiting_for.store(wait.from_vcpu, std::memory_order_relaxed);
  me.waiting_for_count.store(wait.from_count, std::memory_order_relaxed);
  me.waiting.store(true, std::memory_order_release);

  // Spin briefly (the predecessor is usually a block away), then back off to sleeping:
  // on a machine with fewer cores than vCPUs the predecessor needs our core.
  uint64_t signature = ProgressSignature();
  auto last_progress = std::chrono::steady_clock::now();
  for (uint32_t round = 0;; ++round) {
    if (pred.published.load(std::memory_order_acquire) >= wait.from_count) break;
    if (failed_.load(std::memory_order_acquire)) Fail("");
    if (pred.finished.load(std::memory_order_acquire) &&
        pred.published.load(std::memory_order_acquire) < wait.from_count) {
      Fail("vcpu " + std::to_string(wait.from_vcpu) + " finished before the count it is waited for");
    }
    if (round < 64) continue;
    if (round < 256) {
      std::this_thread::yield();
      continue;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(round < 1024 ? 10 : 200));
    uint64_t now_signature = ProgressSignature();
    auto now = std::chrono::steady_clock::now();
    if (now_signature != signature) {
      signature = now_signature;
      last_progress = now;
    } else if (now - last_progress > options_.stall_timeout &&
               (now - last_progress > options_.running_stall_timeout || EveryOtherVcpuWaitsOrFinished(me))) {
      Fail("no vCPU advanced for " + std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(now - last_progress).count()) + " ms");
    }
  }
  me.waiting.store(false, std::memory_order_release);
}

bool ReplayGate::EveryOtherVcpuWaitsOrFinished(const Vcpu& me) const {
  for (const auto& v : vcpus_) {
    if (v.get() != &me && !v->finished.load(std::memory_order_acquire) && !v->waiting.load(std::memory_order_acquire)) return false;
  }
  return true;
}

uint64_t ReplayGate::ProgressSignature() const {
  uint64_t sum = 0;
  for (const auto& v : vcpus_) sum += v->published.load(std::memory_order_relaxed);
  return sum;
}

void ReplayGate::Fail(const std::string& reason) {
  std::lock_guard lock(failure_mutex_);
  if (!failure_) {
    StallReport report;
    report.reason = reason;
    for (uint32_t i = 0; i < vcpus_.size(); ++i) {
      const Vcpu& v = *vcpus_[i];
      report.vcpus.push_back(StallReport::Vcpu{
          i, v.published.load(std::memory_order_acquire), v.finished.load(std::memory_order_acquire),
          v.waiting.load(std::memory_order_acquire), v.waiting_at.load(std::memory_order_relaxed),
          v.waiting_for.load(std::memory_order_relaxed), v.waiting_for_count.load(std::memory_order_relaxed)});
    }
    failure_ = std::move(report);
    failed_.store(true, std::memory_order_release);
  }
  throw ReplayStalled(*failure_);
}

}  // namespace rrkit::crew
