// A divergence: the first place a replay did not follow its recording, as data (rr's
// Registers::compare_with) and as the one line people read. Thrown by a replaying World
// (and by an engine that finds the guest somewhere the log never was); carried to
// TypeScript in the run result.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "replay/landmark.h"

namespace rrkit::replay {

struct Divergence {
  Landmark at;
  std::string what;      // e.g. "input kind", "register hash", "memory hash"
  std::string expected;
  std::string actual;
};

// The one line for a divergence, the only place it is formatted:
// "replay diverged at vcpu 1 @ instruction 4000: register hash: expected 0x.., actual 0x..".
// `landmark_name`: what the engine's landmarks count, singular ("instruction", "exit").
std::string DescribeDivergence(const Divergence& divergence, std::string_view landmark_name);

struct Checkpoint;
// Every difference between a logged checkpoint and a taken one (empty when they agree).
std::vector<Divergence> CompareCheckpoints(const Checkpoint& expected, const Checkpoint& actual);

}  // namespace rrkit::replay
