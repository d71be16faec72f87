// M:N execution: N vCPUs run by a pool of T host threads (T <= N, by default the host's
// cores). Each thread takes a ready vCPU, runs it for a slice (the engine's RunSlice, which
// returns at a block boundary), then takes the next ready one. A vCPU that is not on a
// thread sits at a block boundary with its state in memory, so whatever another vCPU needs
// from it (a CREW page) can be taken at once, without waiting for the host scheduler.
//
// What ends a slice is the engine's business; the slice says what the vCPU does next:
//   kYield    it could run on, but its slice is over: to the back of the ready queue;
//   kBlocked  it waits for something (a page, a turn, a replay gate, a cut, an interrupt):
//             it runs again only after Wake(), or at the deadline it set with WakeAt();
//   kDone     it stops for good.
// A wake that comes while the vCPU runs is kept, and turns its next kBlocked into a
// requeue, so that a wake-up sent between "check the condition" and "block" is never lost:
// the engine checks the condition after its slice started, and whoever makes it true
// calls Wake() after. Wakes may be spurious; a woken vCPU checks its condition again.
//
// No thread ever blocks while a vCPU is ready: waiting is a vCPU state, not a thread state.
// When no vCPU is ready and none is on a thread, nothing inside the machine can wake one:
// `all_blocked` says so (a replay that cannot progress; a live machine waits for its timer).
#pragma once

#include <pthread.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <vector>

namespace rrkit::machine {

class VcpuScheduler {
 public:
  using Clock = std::chrono::steady_clock;
  enum class SliceEnd { kYield, kBlocked, kDone };
  // Runs `vcpu` for one slice, on a pool thread; never called for one vCPU from two threads at once.
  using RunSlice = std::function<SliceEnd(uint32_t vcpu)>;

  struct Hooks {
    RunSlice run_slice;
    // A pool thread is about to end (after its last slice).
    std::function<void()> thread_ended = [] {};
    // Called (without the scheduler's lock) when every vCPU that is not done is blocked,
    // none is due at a deadline, and no thread is running one.
    std::function<void()> all_blocked = [] {};
  };

  // The host's cores, at least 1.
  static uint32_t HostCores();

  VcpuScheduler(uint32_t vcpus, uint32_t threads);
  ~VcpuScheduler();
  VcpuScheduler(const VcpuScheduler&) = delete;
  VcpuScheduler& operator=(const VcpuScheduler&) = delete;

  uint32_t vcpu_count() const { return static_cast<uint32_t>(vcpus_.size()); }
  uint32_t thread_count() const { return threads_; }

  // Starts the pool; every vCPU is ready. Call once.
  void Start(Hooks hooks);
  // Waits for every pool thread to end: every vCPU done, or Stop().
  void Join();

  // Any thread: `vcpu` may have a reason to run (see above). `urgent`: to the front of the
  // ready queue (another vCPU may be waiting for it).
  void Wake(uint32_t vcpu, bool urgent = false);
  // From a slice that ends right after this call (its vCPU is about to wait): `vcpu` may run,
  // and runs next on this thread rather than on an idle one woken for it. A serialized turn
  // passing between vCPUs then costs no thread wake-up (docs/crew.md, "Handing the turn
  // over"). Called on a pool thread inside a slice, it takes effect when the slice ends,
  // under the lock the thread takes then anyway; otherwise as Wake(vcpu, true).
  void HandOver(uint32_t vcpu);
  // HandOver at once, also inside a slice: for callers whose hand-overs must reach the
  // queue in the order they were made (replay's turn follower; docs/crew.md, "The turn
  // switch's host work").
  void HandOverNow(uint32_t vcpu);
  // From `vcpu`'s own slice: when it returns kBlocked, run it again `after` its slice ended
  // at the latest (applied when the slice ends, with the clock read the next pick needs).
  void WakeAfter(uint32_t vcpu, Clock::duration after);
  // Whether a ready vCPU waits for a thread: a slice that could go on yields only then.
  bool OthersWaiting() const { return ready_count_.load(std::memory_order_relaxed) != 0; }
  // Every thread ends after its current slice; no vCPU runs again.
  void Stop();

 private:
  enum class State { kReady, kRunning, kBlocked, kDone };
  struct Vcpu {
    State state = State::kReady;
    bool wake_pending = false;
    std::optional<Clock::time_point> wake_at;
  };

  // What the slice running on a pool thread asked for its end (HandOver, WakeAfter).
  struct SliceRequests {
    uint32_t vcpu = 0;
    std::optional<uint32_t> hand_over;
    std::optional<Clock::duration> wake_after;
  };
  // A pool thread, as its slices find it: its id (set once it runs) and its slice's requests
  // (touched by that thread only).
  struct ThreadSlot {
    std::atomic<pthread_t> thread{};
    SliceRequests* requests = nullptr;
  };

  void ThreadMain(ThreadSlot& slot);
  // Under the lock: the next vCPU to run, or nullopt (then `until` is the earliest deadline).
  // `now`: the time, if the caller has just read it (the clock is read at most once).
  std::optional<uint32_t> PickLocked(std::optional<Clock::time_point>& until, std::optional<Clock::time_point> now);
  void MakeReadyLocked(uint32_t vcpu, bool urgent, bool notify = true);
  void HandOverLocked(uint32_t vcpu);
  // The requests of the slice the calling pool thread runs; null off the pool.
  SliceRequests* CurrentSlice();
  bool AllBlockedLocked() const;

  const uint32_t threads_;
  const std::unique_ptr<ThreadSlot[]> slots_;
  Hooks hooks_;
  std::mutex mutex_;
  std::condition_variable work_cv_;
  std::vector<Vcpu> vcpus_;
  std::deque<uint32_t> ready_;
  std::multiset<Clock::time_point> idle_until_;  // when each idle thread wakes by itself (max: never)
  // No blocked vCPU's deadline is earlier (some may be later: the vCPU ran since).
  std::optional<Clock::time_point> earliest_wake_;
  std::atomic<uint32_t> ready_count_{0};
  uint32_t running_ = 0;
  uint32_t done_ = 0;
  bool stopping_ = false;
  bool reported_all_blocked_ = false;
  std::vector<std::thread> pool_;
};

}  // namespace rrkit::machine
