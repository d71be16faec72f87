// A host schedule shuffled on purpose, to check that a replay's order comes from the log
// alone (`rrkit verify --shuffle`, docs/crew.md "Shuffled replays"): every choice the
// engine's schedule makes that the log does not fix becomes a coin toss — on emu, how long
// an M:N slice runs, whether a turn's hand-over reaches the ready queue at once or at the
// slice's end, whether a woken vCPU goes to the front or the back of the queue; on kvm,
// whether a vCPU thread that passed a gate goes on at once, yields, or sleeps a while. A
// complete log replays identically whatever the coins say; a log that leaves an order to
// the host diverges under some of them (test/fixtures/order-dependence).
//
// The seed varies the schedule; it does not reproduce one: the coins are drawn by whichever
// host thread gets there first. Seed 0: no shuffling (the engine's usual choices).
#pragma once

#include <atomic>
#include <cstdint>

namespace rrkit::machine {

class ScheduleShuffle {
 public:
  explicit ScheduleShuffle(uint64_t seed) : on_(seed != 0), state_(seed) {}

  bool on() const { return on_; }
  // From any thread.
  bool Coin() { return (Next() >> 63) != 0; }
  // A number in [1, n], n >= 1.
  uint64_t UpTo(uint64_t n) { return 1 + Next() % n; }

 private:
  // SplitMix64: a counter, stepped atomically, through a mixing function.
  uint64_t Next() {
    uint64_t z = state_.fetch_add(0x9e3779b97f4a7c15ULL, std::memory_order_relaxed) + 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

  const bool on_;
  std::atomic<uint64_t> state_;
};

}  // namespace rrkit::machine
