// What the run loop keeps for one hart besides its architectural state: the next count at
// which something must happen (its target) and why, what it waits for when it is off its
// thread (M:N: machine/vcpu_scheduler.h), whether it sleeps in wfi, and what SMP record and
// progress reports need. Owned by the Machine; touched only by whichever pool thread runs
// the hart, except `published`.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <optional>

#include "emu/access_policy.h"
#include "emu/block_cache.h"
#include "emu/decoder.h"
#include "emu/hart.h"
#include "machine/host_time_samples.h"
#include "replay/world.h"

namespace rrkit::emu {

// Why a hart is off its thread, waiting (run_loop.cc); each is checked again when it runs.
enum class HartWait : uint8_t {
  kNone,
  kPage,   // SMP record: a CREW page (Crew::Request said kPending)
  kCut,    // a consistent cut the others have not all reached
  kGate,   // SMP replay: a recorded transfer edge's predecessor
  kTurn,   // serialized mode: its group's turn (or, recording, the group to form)
  kSpin,   // it spins (a spin-wait hint, or a spin loop the executor recognised)
  kSleep,  // wfi, until an interrupt
  kSwitch, // replay then live: the others to reach the end of the log
};

struct alignas(64) HartRun {
  explicit HartRun(Hart& h) : hart(h) {}
  Hart& hart;
  uint64_t target = replay::kNever;       // the next count at which something must happen
  uint64_t logged_target = replay::kNever;  // ... of what the log or the machine schedules (not slices, polls, turns)
  uint64_t final_count = replay::kNever;  // stop here (stop_at, or replay's final landmark)
  std::optional<replay::World::Scheduled> next_interrupt;  // replay: the next logged interrupt
  bool sleeping = false;                  // in wfi
  HartWait wait = HartWait::kNone;        // why it is off its thread
  uint64_t cut_generation = 0;            // kCut: the cut it arrived at
  uint64_t slice_end = replay::kNever;    // M:N: where its slice ends, if others wait for a thread
  uint64_t spin_sample_at = 0;            // where it next looks whether it spins (the spin probe)
  uint64_t spin_period = 16 * 1024;       // ... that many instructions after the last look
  uint64_t spin_probe_until = 0;          // the probe watches it up to this count
  bool crew_parked = false;               // SMP record: CREW takes its pages without its help
  bool turn_held = true;                  // serialized mode: free, or holding its group's turn
  bool start_sampled = false;             // record --wall-samples: its first running sample is logged
  std::optional<machine::HostTimeSamples::Stall> stall;  // ... what it waits for, while off its thread
  OwnershipFault ownership_fault;         // SMP record: the page the last refused access needs
  uint64_t crew_poll_at = replay::kNever;  // SMP record: serve requests CREW deferred (a hold) here
  uint64_t horizon = replay::kNever;       // replay: every record of this hart below it has been read
  std::optional<uint64_t> refreshed_horizon;  // replay: the horizon of the last look at the log (LogMayHaveNews)
  bool refreshed_interrupt = false;           // ... and whether it knew of a next interrupt then
  uint64_t switch_at = replay::kNever;     // replay then live: this hart's last landmark in the log
  std::atomic<uint64_t> published{0};     // hart.instret as of its last run-loop pass (RetiredSoFar)
  bool done = false;
  // A block cut short at `target`: its first instructions and a sentinel.
  std::array<DecodedInsn, BlockCache::kMaxBlockLength + 1> clipped{};
};

}  // namespace rrkit::emu
