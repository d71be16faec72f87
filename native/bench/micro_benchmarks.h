// Timed loops over rrkit's hot paths for `npm run bench -- micro` (bench/micro.ts), and for
// nothing else. Each runs a batch of one operation and returns how long the batch took, in
// nanoseconds of the host's steady clock, and how many operations it did: timing the batch
// here keeps the JavaScript call around it out of the figure.
#pragma once

#include <cstdint>

namespace rrkit::bench {

struct BatchTiming {
  uint64_t ns = 0;
  uint64_t operations = 0;
};

// `records` appends of a clock input record to a log writer whose chunks go nowhere (the
// writer still encodes, seals and compresses them, on its own thread as in a recording).
BatchTiming TimeLogAppends(uint64_t records);

// `checks` CREW permission checks that pass (the fast path an engine takes before every
// guest memory access): the page of an address, one byte load, one compare.
BatchTiming TimePermissionChecks(uint64_t checks);

// The state hash of `mib` MiB of guest RAM full of data, as a checkpoint takes it: emu's
// (HashRam) or kvm's from scratch (HashGuestMemory). Operations are MiB.
BatchTiming TimeEmuStateHash(uint64_t mib);
BatchTiming TimeKvmStateHash(uint64_t mib);

// Two threads, two CREW vCPUs, both writing one page: the page goes from one to the other
// and back `round_trips` times (at least), each time through Acquire and the holder's Poll
// as in an emu recording. Operations are round trips (two transfers each).
BatchTiming TimeOwnershipRoundTrips(uint64_t round_trips);

}  // namespace rrkit::bench
