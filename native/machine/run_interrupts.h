// Every run in progress in this process, so that one call can stop them all: how SIGINT
// and SIGTERM reach a running guest (the rrkit command's handler calls interruptRuns()).
// An engine registers a stop function for the length of a run (InterruptibleRun, RAII);
// InterruptAllRuns() calls each. A recording stopped this way ends like one stopped by its
// timeout: the open chunk sealed, no trailer (the log is incomplete).
#pragma once

#include <cstdint>
#include <functional>

namespace rrkit::machine {

class InterruptibleRun {
 public:
  // `stop` is called from whichever thread calls InterruptAllRuns, at most once, and never
  // after this object is destroyed; it must be quick and must not block.
  explicit InterruptibleRun(std::function<void()> stop);
  ~InterruptibleRun();
  InterruptibleRun(const InterruptibleRun&) = delete;
  InterruptibleRun& operator=(const InterruptibleRun&) = delete;

 private:
  uint64_t id_;
};

// Stops every registered run; returns how many there were.
uint32_t InterruptAllRuns();

}  // namespace rrkit::machine
