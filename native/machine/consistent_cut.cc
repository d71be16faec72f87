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
