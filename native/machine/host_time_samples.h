// Wall-clock samples for the timeline (`rrkit record --wall-samples`, `rrkit log timeline
// --wall`): each vCPU's landmark paired with host time, every `period` while it runs (a
// ticker asks each vCPU for one), and at both ends of every stall that lasts at least
// kMinStall — waiting for a page, at a cut, asleep — so that the timeline can draw what
// each vCPU did in host time. Nothing here is needed for replay; recording pays a clock
// read per stall and a record per sample. Engine-neutral: an engine raises its own
// attention bit in `tick` and calls Sample() when it sees it; an engine that sees each
// vCPU leave and re-enter the guest (kvm, at its exits) passes no tick and uses GuestEntries.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

#include "replay/log_records.h"

namespace rrkit::machine {

class HostTimeSamples {
 public:
  using Clock = std::chrono::steady_clock;
  using Sink = std::function<void(const replay::HostTimeRecord&)>;

  // Shorter stalls are not logged: they would cost more log than they show.
  static constexpr std::chrono::nanoseconds kMinStall{2000};

  // `sink` takes each sample (from any vCPU thread); `tick` runs on the ticker's thread
  // every `period` and must only ask the vCPUs for a sample (quick, no blocking); empty: no ticker.
  HostTimeSamples(Sink sink, std::chrono::microseconds period, std::function<void()> tick);
  ~HostTimeSamples();
  HostTimeSamples(const HostTimeSamples&) = delete;
  HostTimeSamples& operator=(const HostTimeSamples&) = delete;

  // Time zero of the samples: call as the machine starts running; starts the ticker, if any.
  void Start();
  // Stops and joins the ticker. Idempotent.
  void Stop();

  // The vCPU at `at` begins `activity` now.
  void Sample(replay::Landmark at, replay::VcpuActivity activity);

  // Without a ticker, one vCPU's entries into the guest and exits from it (kvm's KVM_RUN):
  // a running sample at the first exit after each period, and one at each end of a stretch
  // of a period or more in the guest (at the entry, at the exit), so that every exit between
  // two samples lies within about a period of where the timeline's even spread puts it.
  // Two clock reads an exit. Used on the vCPU's own thread; `samples` may be null (none).
  class GuestEntries {
   public:
    GuestEntries(HostTimeSamples* samples, replay::Landmark at);  // a running sample now
    void Entering(replay::Landmark at);
    void Exited(replay::Landmark at);

   private:
    HostTimeSamples* samples_;
    replay::Landmark entered_at_;
    Clock::time_point entered_;
    Clock::time_point due_;
    bool entry_sampled_ = true;  // the entry (or start) the stretch began at has its sample
  };

  // A stall of the vCPU at `at`, from construction to destruction: logged as `activity`
  // then running again when it lasted kMinStall or more. `samples` may be null (no samples).
  class Stall {
   public:
    Stall(HostTimeSamples* samples, replay::Landmark at, replay::VcpuActivity activity)
        : samples_(samples), at_(at), activity_(activity), began_(samples ? Clock::now() : Clock::time_point{}) {}
    ~Stall() { EndAs(replay::VcpuActivity::kRunning); }
    Stall(const Stall&) = delete;
    Stall& operator=(const Stall&) = delete;
    // Ends the stall now, the vCPU going on as `next` (the destructor: running again). A
    // stall shorter than kMinStall logs only a `next` that is not running (a stop, say).
    // Never throws: a log that cannot take the sample fails at its next record.
    void EndAs(replay::VcpuActivity next);

   private:
    HostTimeSamples* samples_;
    replay::Landmark at_;
    replay::VcpuActivity activity_;
    Clock::time_point began_;
  };

 private:
  uint64_t NanosAt(Clock::time_point t) const;
  void Loop();

  const Sink sink_;
  const std::chrono::microseconds period_;
  const std::function<void()> tick_;
  Clock::time_point zero_ = Clock::now();
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace rrkit::machine
