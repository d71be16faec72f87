#include "machine/consistent_cut.h"

namespace rrkit::machine {

void ConsistentCut::Arrive(const std::function<void()>& at_cut) {
  std::unique_lock lock(mutex_);
  const uint64_t generation = generation_;
  if (++arrived_ < vcpus_) {
    cv_.wait(lock, [&] { return generation_ != generation || cancelled_; });
    return;
  }
  // Every vCPU is here: none can arrive again or read the cut's state until it completes.
  lock.unlock();
  at_cut();
  lock.lock();
  arrived_ = 0;
  ++generation_;
  cv_.notify_all();
}

bool ConsistentCut::TryArrive(uint32_t vcpu, const std::function<void()>& at_cut, uint64_t& generation,
                              std::vector<uint32_t>& released) {
  std::unique_lock lock(mutex_);
  generation = generation_;
  if (++arrived_ < vcpus_) {
    waiting_.push_back(vcpu);
    return false;
  }
  lock.unlock();
  at_cut();
  lock.lock();
  arrived_ = 0;
  ++generation_;
  released = std::move(waiting_);
  waiting_.clear();
  cv_.notify_all();
  return true;
}

bool ConsistentCut::Completed(uint64_t generation) {
  std::lock_guard lock(mutex_);
  return generation_ != generation || cancelled_;
}

uint64_t ConsistentCut::completed() {
  std::lock_guard lock(mutex_);
  return generation_;
}

void ConsistentCut::Cancel() {
  {
    std::lock_guard lock(mutex_);
    cancelled_ = true;
  }
  cv_.notify_all();
}

}  // namespace rrkit::machine
