#include "machine/vcpu_scheduler.h"

#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <stdexcept>
#include <string>

namespace rrkit::machine {

uint32_t VcpuScheduler::HostCores() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    const int n = CPU_COUNT(&set);
    if (n > 0) return static_cast<uint32_t>(n);
  }
  return std::max(1u, std::thread::hardware_concurrency());
}

VcpuScheduler::VcpuScheduler(uint32_t vcpus, uint32_t threads)
    : threads_(std::min(threads, vcpus)), slots_(new ThreadSlot[std::max(1u, std::min(threads, vcpus))]), vcpus_(vcpus) {
  if (vcpus == 0) throw std::invalid_argument("the scheduler needs at least one vCPU");
  if (threads == 0) throw std::invalid_argument("the scheduler needs at least one thread");
  for (uint32_t v = 0; v < vcpus; ++v) ready_.push_back(v);
  ready_count_.store(vcpus, std::memory_order_relaxed);
}

VcpuScheduler::~VcpuScheduler() {
  Stop();
  Join();
}

void VcpuScheduler::Start(Hooks hooks) {
  if (!pool_.empty()) throw std::logic_error("the scheduler is started once");
  hooks_ = std::move(hooks);
  for (uint32_t t = 0; t < threads_; ++t) pool_.emplace_back([this, t] { ThreadMain(slots_[t]); });
}

void VcpuScheduler::Join() {
  for (auto& thread : pool_) {
    if (thread.joinable()) thread.join();
  }
}

void VcpuScheduler::Stop() {
  std::lock_guard lock(mutex_);
  stopping_ = true;
  work_cv_.notify_all();
}

void VcpuScheduler::Wake(uint32_t vcpu, bool urgent) {
  std::lock_guard lock(mutex_);
  Vcpu& v = vcpus_.at(vcpu);
  switch (v.state) {
    case State::kBlocked: MakeReadyLocked(vcpu, urgent); break;
    case State::kRunning: v.wake_pending = true; break;
    case State::kReady:
    case State::kDone: break;
  }
}

// The caller's pool thread, by its id (cheaper than a thread_local in a shared library,
// which costs a __tls_get_addr call: ~2 % of a handshake's recording).
VcpuScheduler::SliceRequests* VcpuScheduler::CurrentSlice() {
  const pthread_t me = pthread_self();
  for (uint32_t t = 0; t < threads_; ++t) {
    if (pthread_equal(slots_[t].thread.load(std::memory_order_relaxed), me)) return slots_[t].requests;
  }
  return nullptr;
}

// A serialized turn passes at every hand-over (on a handshake, every few dozen guest
// instructions): inside a slice it waits for the slice's end, which takes the lock anyway.
void VcpuScheduler::HandOver(uint32_t vcpu) {
  if (vcpu >= vcpus_.size()) throw std::out_of_range("HandOver: no vCPU " + std::to_string(vcpu));
  if (SliceRequests* slice = CurrentSlice()) {
    if (!slice->hand_over.has_value()) {
      slice->hand_over = vcpu;
      return;
    }
  }
  std::lock_guard lock(mutex_);
  HandOverLocked(vcpu);
}

void VcpuScheduler::HandOverNow(uint32_t vcpu) {
  if (vcpu >= vcpus_.size()) throw std::out_of_range("HandOverNow: no vCPU " + std::to_string(vcpu));
  std::lock_guard lock(mutex_);
  HandOverLocked(vcpu);
}

void VcpuScheduler::HandOverLocked(uint32_t vcpu) {
  Vcpu& v = vcpus_[vcpu];
  switch (v.state) {
    case State::kBlocked: MakeReadyLocked(vcpu, true, false); break;
    case State::kRunning: v.wake_pending = true; break;
    case State::kReady:  // queued already (a deadline passed): it goes first all the same
      std::erase(ready_, vcpu);
      ready_.push_front(vcpu);
      break;
    case State::kDone: break;
  }
}

void VcpuScheduler::WakeAfter(uint32_t vcpu, Clock::duration after) {
  SliceRequests* slice = CurrentSlice();
  if (slice == nullptr || slice->vcpu != vcpu) throw std::logic_error("WakeAfter: only from vCPU " + std::to_string(vcpu) + "'s own slice");
  slice->wake_after = slice->wake_after.has_value() ? std::min(*slice->wake_after, after) : after;
}

void VcpuScheduler::MakeReadyLocked(uint32_t vcpu, bool urgent, bool notify) {
  Vcpu& v = vcpus_[vcpu];
  v.state = State::kReady;
  v.wake_at.reset();
  if (urgent) ready_.push_front(vcpu);
  else ready_.push_back(vcpu);
  ready_count_.store(static_cast<uint32_t>(ready_.size()), std::memory_order_relaxed);
  reported_all_blocked_ = false;
  if (notify) work_cv_.notify_one();
}

std::optional<uint32_t> VcpuScheduler::PickLocked(std::optional<Clock::time_point>& until, std::optional<Clock::time_point> now) {
  // Look at every deadline only once the earliest may have passed: in a serialized
  // handshake each of 8 vCPUs blocks with one at every turn, and is picked long before it.
  if (earliest_wake_.has_value()) {
    if (!now.has_value()) now = Clock::now();
    if (*earliest_wake_ <= *now) {
      earliest_wake_.reset();
      for (uint32_t id = 0; id < vcpus_.size(); ++id) {
        Vcpu& v = vcpus_[id];
        if (v.state != State::kBlocked || !v.wake_at.has_value()) continue;
        if (*v.wake_at <= *now) MakeReadyLocked(id, false);
        else earliest_wake_ = earliest_wake_.has_value() ? std::min(*earliest_wake_, *v.wake_at) : *v.wake_at;
      }
    }
  }
  until = earliest_wake_;
  if (ready_.empty()) return std::nullopt;
  const uint32_t vcpu = ready_.front();
  ready_.pop_front();
  ready_count_.store(static_cast<uint32_t>(ready_.size()), std::memory_order_relaxed);
  return vcpu;
}

bool VcpuScheduler::AllBlockedLocked() const {
  if (running_ != 0 || !ready_.empty() || done_ == vcpus_.size()) return false;
  for (const Vcpu& v : vcpus_) {
    if (v.state == State::kBlocked && v.wake_at.has_value()) return false;
  }
  return true;
}

void VcpuScheduler::ThreadMain(ThreadSlot& slot) {
  slot.thread.store(pthread_self(), std::memory_order_relaxed);
  std::unique_lock lock(mutex_);
  std::optional<Clock::time_point> now;  // read when the last slice ended, if it was needed
  for (;;) {
    if (stopping_ || done_ == vcpus_.size()) break;
    std::optional<Clock::time_point> until;
    const std::optional<uint32_t> picked = PickLocked(until, now);
    now.reset();
    if (!picked.has_value()) {
      if (!reported_all_blocked_ && AllBlockedLocked()) {
        reported_all_blocked_ = true;
        lock.unlock();
        hooks_.all_blocked();
        lock.lock();
        continue;
      }
      const auto mine = idle_until_.insert(until.value_or(Clock::time_point::max()));
      if (until.has_value()) work_cv_.wait_until(lock, *until);
      else work_cv_.wait(lock);
      idle_until_.erase(mine);
      continue;
    }
    // A vCPU handed over to this thread may have been passed over for another one at the
    // front of the queue: then an idle thread takes it.
    if (!ready_.empty()) work_cv_.notify_one();
    const uint32_t id = *picked;
    Vcpu& v = vcpus_[id];
    v.state = State::kRunning;
    v.wake_pending = false;
    v.wake_at.reset();
    ++running_;
    lock.unlock();
    SliceRequests requests{id, std::nullopt, std::nullopt};
    slot.requests = &requests;
    const SliceEnd end = hooks_.run_slice(id);
    slot.requests = nullptr;
    if (requests.wake_after.has_value()) now = Clock::now();  // the next pick uses it too
    lock.lock();
    --running_;
    if (requests.wake_after.has_value()) {
      const Clock::time_point when = *now + *requests.wake_after;
      v.wake_at = v.wake_at.has_value() ? std::min(*v.wake_at, when) : when;
      earliest_wake_ = earliest_wake_.has_value() ? std::min(*earliest_wake_, when) : when;
    }
    switch (end) {
      case SliceEnd::kYield: MakeReadyLocked(id, false); break;
      case SliceEnd::kBlocked:
        if (v.wake_pending) {
          MakeReadyLocked(id, false);
        } else {
          v.state = State::kBlocked;
          // Idle threads may all be waiting past this deadline (or without one): let one
          // wait for it. Not otherwise: a spin-waiting vCPU blocks with a deadline at every
          // serialized turn, and waking an idle thread each time only to wait again cost a
          // futex wake and two context switches per turn.
          if (v.wake_at.has_value() && !idle_until_.empty() && *v.wake_at < *idle_until_.begin()) work_cv_.notify_one();
        }
        break;
      case SliceEnd::kDone:
        v.state = State::kDone;
        if (++done_ == vcpus_.size()) work_cv_.notify_all();
        break;
    }
    // After the slice's own vCPU is settled: a turn handed to itself (a group's first)
    // makes it ready again.
    if (requests.hand_over.has_value()) HandOverLocked(*requests.hand_over);
  }
  // Let the others see the stop or the last vCPU done.
  work_cv_.notify_all();
  slot.thread.store(pthread_t{}, std::memory_order_relaxed);
  lock.unlock();
  hooks_.thread_ended();
}

}  // namespace rrkit::machine
