// What the run loop keeps for one hart besides its architectural state: the next count at
// which something must happen (its target) and why, whether it sleeps in wfi, and what
// SMP record and progress reports need. Owned by the Machine; touched only by the hart's
// own thread, except `published`.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <optional>

#include "emu/access_policy.h"
#include "emu/block_cache.h"
#include "emu/decoder.h"
#include "emu/hart.h"
#include "replay/world.h"

namespace rrkit::emu {

struct alignas(64) HartRun {
  explicit HartRun(Hart& h) : hart(h) {}
  Hart& hart;
  uint64_t target = replay::kNever;       // the next count at which something must happen
  uint64_t final_count = replay::kNever;  // stop here (stop_at, or replay's final landmark)
  std::optional<replay::World::Scheduled> next_interrupt;  // replay: the next logged interrupt
  bool sleeping = false;                  // in wfi
  OwnershipFault ownership_fault;         // SMP record: the page the last refused access needs
  uint64_t crew_poll_at = replay::kNever;  // SMP record: serve requests CREW deferred (a hold) here
  uint64_t horizon = replay::kNever;       // replay: every record of this hart below it has been read
  uint64_t switch_at = replay::kNever;     // replay then live: this hart's last landmark in the log
  std::atomic<uint64_t> published{0};     // hart.instret as of its last run-loop pass (RetiredSoFar)
  bool done = false;
  // A block cut short at `target`: its first instructions and a sentinel.
  std::array<DecodedInsn, BlockCache::kMaxBlockLength + 1> clipped{};
};

}  // namespace rrkit::emu
