#include "crew/replay_gate.h"

#include <algorithm>
#include <sstream>
#include <iterator>
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

ReplayGate::ReplayGate(uint32_t vcpus, Options options) : options_(options) {
  for (uint32_t v = 0; v < vcpus; ++v) vcpus_.push_back(std::make_unique<Vcpu>());
}

ReplayGate::ReplayGate(uint32_t vcpus, const std::vector<TransferEdge>& edges,
                       const std::optional<std::vector<uint64_t>>& final_counts, Options options)
    : ReplayGate(vcpus, options) {
  ValidateEdges(vcpus, edges, final_counts);
  for (const TransferEdge& e : edges) AddEdge(e);
}

void ReplayGate::AddEdge(const TransferEdge& e) {
  const auto n = static_cast<uint32_t>(vcpus_.size());
  if (e.from_vcpu >= n || e.to_vcpu >= n) {
    throw InvalidEdgeLog("CREW log: edge names a vCPU the machine lacks (it has " + std::to_string(n) + "): vcpu " +
                         std::to_string(e.from_vcpu) + " -> vcpu " + std::to_string(e.to_vcpu));
  }
  if (e.from_vcpu == e.to_vcpu) {
    throw InvalidEdgeLog("CREW log: edge from a vCPU to itself: vcpu " + std::to_string(e.from_vcpu) + " @ " +
                         std::to_string(e.from_count) + " -> @ " + std::to_string(e.to_count));
  }
  if (e.from_count == 0) return;  // already satisfied at the start
  Vcpu& to = *vcpus_[e.to_vcpu];
  std::lock_guard lock(to.waits_mutex);
  // In log order a vCPU's waits come by count; keep them sorted whatever the order.
  auto at = to.waits.end();
  while (at != to.waits.begin() && std::prev(at)->to_count > e.to_count) --at;
  to.waits.insert(at, Wait{e.to_count, e.from_vcpu, e.from_count});
  pending_.fetch_add(1, std::memory_order_relaxed);
}

void ReplayGate::WaitAt(uint32_t vcpu, uint64_t count) {
  Vcpu& me = *vcpus_[vcpu];
  Publish(vcpu, count);
  // Skip gates a caller passed without stopping (it may start past them, e.g. at 0), then
  // wait for every predecessor at this count.
  for (;;) {
    Wait wait;
    {
      std::lock_guard lock(me.waits_mutex);
      if (me.waits.empty() || me.waits.front().to_count > count) return;
      wait = me.waits.front();
      me.waits.pop_front();
    }
    pending_.fetch_sub(1, std::memory_order_relaxed);
    if (wait.to_count == count) WaitFor(me, count, wait);
  }
}

void ReplayGate::Finish(uint32_t vcpu, uint64_t count) {
  Publish(vcpu, count);
  vcpus_[vcpu]->finished.store(true, std::memory_order_release);
  WakeAllWaiters(vcpu);
}

void ReplayGate::Cancel() {
  {
    std::lock_guard lock(failure_mutex_);
    if (failure_) return;
    failure_ = StallReport{"the machine stopped", {}};
    failed_.store(true, std::memory_order_release);
  }
  for (uint32_t v = 0; v < vcpus_.size(); ++v) WakeAllWaiters(v);
}

bool ReplayGate::TryPass(uint32_t vcpu, uint64_t count) {
  Vcpu& me = *vcpus_[vcpu];
  Publish(vcpu, count);
  // As WaitAt: skip gates passed without stopping, then every predecessor at this count. A
  // wait stays queued until its predecessor has passed (the next call checks it again).
  for (;;) {
    Wait wait;
    {
      std::lock_guard lock(me.waits_mutex);
      if (me.waits.empty() || me.waits.front().to_count > count) break;
      wait = me.waits.front();
    }
    const auto pop = [&] {
      {
        std::lock_guard lock(me.waits_mutex);
        me.waits.pop_front();
      }
      pending_.fetch_sub(1, std::memory_order_relaxed);
    };
    if (wait.to_count < count) {
      pop();
      continue;
    }
    Vcpu& pred = *vcpus_[wait.from_vcpu];
    if (failed_.load(std::memory_order_acquire)) Fail("");
    if (pred.published.load(std::memory_order_acquire) >= wait.from_count) {
      pop();
      continue;
    }
    {
      std::lock_guard lock(pred.waiters_mutex);
      pred.waiters.emplace_back(vcpu, wait.from_count);
      if (wait.from_count < pred.wake_count.load(std::memory_order_relaxed)) {
        pred.wake_count.store(wait.from_count, std::memory_order_release);
      }
    }
    // Whether it finished or got there meanwhile: after registering, so that one of the
    // two sees the other (Reached and Finish take the waiters' lock).
    if (pred.published.load(std::memory_order_acquire) >= wait.from_count) {
      pop();
      continue;
    }
    if (pred.finished.load(std::memory_order_acquire)) {
      Fail("vcpu " + std::to_string(wait.from_vcpu) + " finished before the count it is waited for");
    }
    me.waiting_at.store(count, std::memory_order_relaxed);
    me.waiting_for.store(wait.from_vcpu, std::memory_order_relaxed);
    me.waiting_for_count.store(wait.from_count, std::memory_order_relaxed);
    me.waiting.store(true, std::memory_order_release);
    if (hooks_.wanted) hooks_.wanted(wait.from_vcpu);
    return false;
  }
  me.waiting.store(false, std::memory_order_release);
  return true;
}

void ReplayGate::Reached(uint32_t vcpu, uint64_t count) {
  Vcpu& v = *vcpus_[vcpu];
  if (count < v.wake_count.load(std::memory_order_acquire)) return;
  std::vector<uint32_t> woken;
  {
    std::lock_guard lock(v.waiters_mutex);
    uint64_t next = kNever;
    std::erase_if(v.waiters, [&](const std::pair<uint32_t, uint64_t>& w) {
      if (w.second <= count) {
        woken.push_back(w.first);
        return true;
      }
      next = std::min(next, w.second);
      return false;
    });
    v.wake_count.store(next, std::memory_order_release);
  }
  if (hooks_.wake) {
    for (uint32_t w : woken) hooks_.wake(w);
  }
}

void ReplayGate::WakeAllWaiters(uint32_t vcpu) {
  Vcpu& v = *vcpus_[vcpu];
  std::vector<std::pair<uint32_t, uint64_t>> woken;
  {
    std::lock_guard lock(v.waiters_mutex);
    woken.swap(v.waiters);
    v.wake_count.store(kNever, std::memory_order_release);
  }
  if (hooks_.wake) {
    for (const auto& w : woken) hooks_.wake(w.first);
  }
}

StallReport ReplayGate::Stalled(const std::string& reason) {
  std::lock_guard lock(failure_mutex_);
  if (!failure_) {
    failure_ = Report(reason);
    failed_.store(true, std::memory_order_release);
  }
  return *failure_;
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

StallReport ReplayGate::Report(const std::string& reason) const {
  StallReport report;
  report.reason = reason;
  for (uint32_t i = 0; i < vcpus_.size(); ++i) {
    const Vcpu& v = *vcpus_[i];
    report.vcpus.push_back(StallReport::Vcpu{
        i, v.published.load(std::memory_order_acquire), v.finished.load(std::memory_order_acquire),
        v.waiting.load(std::memory_order_acquire), v.waiting_at.load(std::memory_order_relaxed),
        v.waiting_for.load(std::memory_order_relaxed), v.waiting_for_count.load(std::memory_order_relaxed)});
  }
  return report;
}

void ReplayGate::Fail(const std::string& reason) {
  std::lock_guard lock(failure_mutex_);
  if (!failure_) {
    failure_ = Report(reason);
    failed_.store(true, std::memory_order_release);
  }
  throw ReplayStalled(*failure_);
}

}  // namespace rrkit::crew
