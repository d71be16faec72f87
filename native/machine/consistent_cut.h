// A consistent cut: every vCPU paused at a landmark boundary at once, so that the state
// captured then (each vCPU's registers, one hash of memory) is a state the machine was in.
// The engine asks its vCPUs to arrive (emu: an attention bit, or a vCPU's own count); each
// blocks here until the last one arrives, which does the cut's work while the others wait.
// An engine that runs vCPUs M:N on fewer threads must not block a thread: it arrives with
// TryArrive, and the vCPU waits off its thread until Completed().
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <vector>

namespace rrkit::machine {

class ConsistentCut {
 public:
  explicit ConsistentCut(uint32_t vcpus) : vcpus_(vcpus) {}

  // Blocks until every vCPU has arrived, or until Cancel(). The last to arrive runs
  // `at_cut` while the others wait (without the cut's lock held: it may stop the machine,
  // which cancels), then releases them.
  void Arrive(const std::function<void()>& at_cut);
  // Arrives without blocking. True when `vcpu` was the last: `at_cut` ran, and `released`
  // holds the vCPUs that arrived before it (the engine runs them again). False: `vcpu`
  // waits until Completed(generation).
  bool TryArrive(uint32_t vcpu, const std::function<void()>& at_cut, uint64_t& generation,
                 std::vector<uint32_t>& released);
  // Whether the cut a vCPU arrived at as `generation` has completed (or the cut was cancelled).
  bool Completed(uint64_t generation);
  // Cuts completed so far.
  uint64_t completed();
  // The machine is stopping: nobody waits for a cut any more.
  void Cancel();

 private:
  const uint32_t vcpus_;
  std::mutex mutex_;
  std::condition_variable cv_;
  uint32_t arrived_ = 0;
  uint64_t generation_ = 0;
  bool cancelled_ = false;
  std::vector<uint32_t> waiting_;  // TryArrive's vCPUs at the current cut
};

}  // namespace rrkit::machine
