#include "crew/crew.h"

#include <algorithm>
#include <stdexcept>
#include <string>
#include <utility>

namespace rrkit::crew {
namespace {

constexpr int kSpinBeforeSleep = 2000;  // about 10-50 us

inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

}  // namespace

Crew::Crew(PageGeometry geometry, std::vector<VcpuHooks> hooks, TransferSink sink)
    : geometry_(geometry), sink_(std::move(sink)) {
  if (hooks.empty()) throw std::invalid_argument("CREW needs at least one vCPU");
  for (const VcpuHooks& h : hooks) {
    if (h.attention == nullptr || h.attention_bit == 0) {
      throw std::invalid_argument("CREW: every vCPU needs an attention word and a nonzero bit");
    }
    vcpus_.push_back(std::make_unique<Vcpu>(geometry_.page_count(), h));
  }
}

bool Crew::Acquire(uint32_t vcpu, uint64_t page, bool want_write, uint64_t count) {
  const Access want = want_write ? Access::kWrite : Access::kRead;
  if (vcpu >= vcpus_.size() || page >= geometry_.page_count()) {
    throw std::out_of_range("CREW Acquire: vcpu " + std::to_string(vcpu) + " page " + std::to_string(page) +
                            " outside the machine");
  }
  std::unique_lock lock(mutex_);
  if (stopped_) return false;
  Vcpu& me = *vcpus_[vcpu];
  if (ownership_.HolderAccess(page, vcpu) >= want) {  // nothing to transfer
    me.table.Set(page, ownership_.HolderAccess(page, vcpu));
    return true;
  }
  // Stopped at an instruction boundary: from here on others may take our pages, and we
  // first give them what they asked for, so that two vCPUs faulting on each other's pages
  // both progress.
  me.state = State::kWaiting;
  me.parked_at = count;
  ServeRequests(vcpu, count);
  me.request = Request{true, page, want, count};
  me.waiting_grant.store(true, std::memory_order_relaxed);
  TryComplete(vcpu);
  if (me.request.active) {
    // The holder is usually running on another core and a block away from its boundary:
    // a short spin saves a sleep and a wake-up. The lock still decides.
    lock.unlock();
    for (int i = 0; i < kSpinBeforeSleep && me.waiting_grant.load(std::memory_order_acquire); ++i) CpuRelax();
    lock.lock();
  }
  me.granted.wait(lock, [&] { return !me.request.active || stopped_; });
  if (me.request.active) {
    me.request = Request{};
    me.waiting_grant.store(false, std::memory_order_relaxed);
    me.state = State::kRunning;
    return false;
  }
  return true;
}

void Crew::Poll(uint32_t vcpu, uint64_t count) {
  Vcpu& me = *vcpus_[vcpu];
  // Clear before serving: a request posted after this sets the bit again.
  me.hooks.attention->fetch_and(~me.hooks.attention_bit, std::memory_order_acq_rel);
  std::lock_guard lock(mutex_);
  ServeRequests(vcpu, count);
}

void Crew::Park(uint32_t vcpu, uint64_t count) {
  std::lock_guard lock(mutex_);
  Vcpu& me = *vcpus_[vcpu];
  me.state = State::kParked;
  me.parked_at = count;
  ServeRequests(vcpu, count);
}

void Crew::Unpark(uint32_t vcpu) {
  std::lock_guard lock(mutex_);
  vcpus_[vcpu]->state = State::kRunning;
}

void Crew::Stop() {
  std::lock_guard lock(mutex_);
  stopped_ = true;
  for (auto& v : vcpus_) v->granted.notify_all();
}

void Crew::ServeRequests(uint32_t vcpu, uint64_t count) {
  std::vector<uint32_t> asked = std::move(vcpus_[vcpu]->asked_by);
  vcpus_[vcpu]->asked_by.clear();
  for (uint32_t requester : asked) {
    if (!vcpus_[requester]->request.active) continue;
    YieldTo(vcpu, count, requester);
    TryComplete(requester);
  }
}

void Crew::YieldTo(uint32_t holder, uint64_t at, uint32_t requester) {
  Request& req = vcpus_[requester]->request;
  const Access keep = req.want == Access::kWrite ? Access::kNone : Access::kRead;
  ownership_.Yield(req.page, holder, keep, at);
  vcpus_[holder]->table.Set(req.page, ownership_.HolderAccess(req.page, holder));
}

void Crew::TryComplete(uint32_t vcpu) {
  Vcpu& me = *vcpus_[vcpu];
  Request& req = me.request;
  bool must_wait = false;
  for (uint32_t h : ownership_.Conflicts(req.page, vcpu, req.want)) {
    Vcpu& holder = *vcpus_[h];
    if (holder.state != State::kRunning) {
      YieldTo(h, holder.parked_at, vcpu);  // it is stopped at parked_at: take, no help needed
      continue;
    }
    must_wait = true;
    if (std::find(holder.asked_by.begin(), holder.asked_by.end(), vcpu) == holder.asked_by.end()) {
      holder.asked_by.push_back(vcpu);
      holder.hooks.attention->fetch_or(holder.hooks.attention_bit, std::memory_order_release);
    }
  }
  if (must_wait) return;
  for (const Landmark& from : ownership_.Grant(req.page, vcpu, req.want, req.count)) {
    sink_(TransferEdge{req.page, from.vcpu, from.count, vcpu, req.count});
  }
  me.table.Set(req.page, req.want);
  req = Request{};
  me.waiting_grant.store(false, std::memory_order_release);
  me.state = State::kRunning;
  me.granted.notify_one();
}

}  // namespace rrkit::crew
