// A thread that fires once for each vCPU whose deadline has passed, and otherwise sleeps
// until the earliest one: how a live run turns host time into timer interrupts (emu: the
// CLINT's mtimecmp). Replay has no timer: the log says when interrupts were taken.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace rrkit::machine {

class DeadlineTimer {
 public:
  using Clock = std::chrono::steady_clock;

  // `deadline(vcpu)`: when its timer falls due now (Clock::time_point::max(): never).
  // `fire(vcpu)`: called on the timer's thread, with its lock held, once per arming after the
  // deadline passes; it must be quick and must not call back into the timer.
  DeadlineTimer(uint32_t vcpus, std::function<Clock::time_point(uint32_t)> deadline,
                std::function<void(uint32_t)> fire);
  ~DeadlineTimer();
  DeadlineTimer(const DeadlineTimer&) = delete;
  DeadlineTimer& operator=(const DeadlineTimer&) = delete;

  void Start();
  // Stops and joins the thread. Idempotent.
  void Stop();
  // `vcpu`'s deadline changed: it may fire again.
  void Rearm(uint32_t vcpu);

 private:
  void Loop();

  const std::function<Clock::time_point(uint32_t)> deadline_;
  const std::function<void(uint32_t)> fire_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<bool> fired_;
  bool quit_ = false;
  std::thread thread_;
};

}  // namespace rrkit::machine
