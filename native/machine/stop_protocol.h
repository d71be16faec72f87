// How a run with several vCPU threads stops. The first request wins and says why (the
// guest exited, every vCPU reached its count, a fault, the timeout, a host error, a
// divergence); later ones are ignored. The winner wakes everything that may block, through
// the engine's `wake_all`. The thread that started the run waits here for every vCPU
// thread to end, stopping the run with a timeout first if it has one.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "machine/run_result.h"
#include "replay/divergence.h"

namespace rrkit::machine {

class StopProtocol {
 public:
  // `landmark_name`: what the engine's landmarks count, singular, for divergence lines.
  StopProtocol(std::function<void()> wake_all, std::string_view landmark_name);
  StopProtocol(const StopProtocol&) = delete;
  StopProtocol& operator=(const StopProtocol&) = delete;

  // Stops the run unless it is stopping already. Any thread.
  void Stop(Outcome outcome, std::string error);
  // Stops with kDiverged, keeping the first divergence's report.
  void Diverged(const replay::Divergence& divergence);
  bool stopping() const { return stopping_.load(std::memory_order_acquire); }

  // The guest asked to stop at `at` with `code`. False when a request came earlier (the
  // first one counts).
  bool RecordExit(replay::Landmark at, int code);
  struct Exit {
    replay::Landmark at;
    int code = 0;
  };
  std::optional<Exit> exit();

  // A vCPU reached its final landmark for good; returns how many have so far.
  uint32_t VcpuFinished();

  // A vCPU thread ended (after its last access to anything the run owns).
  void ThreadEnded();
  // Waits until `threads` vCPU threads have ended. When `timeout` (0: none) passes first,
  // stops the run with kTimeout and keeps waiting.
  void WaitForThreads(uint32_t threads, std::chrono::milliseconds timeout);

  // Why the run stopped; read after WaitForThreads.
  Outcome outcome();
  std::string error();
  std::optional<replay::Divergence> divergence();

 private:
  const std::function<void()> wake_all_;
  const std::string landmark_name_;

  std::mutex mutex_;
  std::condition_variable threads_cv_;
  std::atomic<bool> stopping_{false};
  Outcome outcome_ = Outcome::kExited;
  std::string error_;
  std::optional<replay::Divergence> divergence_;
  std::optional<Exit> exit_;
  uint32_t vcpus_finished_ = 0;
  uint32_t threads_ended_ = 0;
};

}  // namespace rrkit::machine
