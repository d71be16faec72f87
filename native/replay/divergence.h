// A divergence: the first place a replay did not follow its recording, as data (rr's
// Registers::compare_with) and as the one line people read. Thrown by a replaying World
// (and by an engine that finds the guest somewhere the log never was); carried to
// TypeScript in the run result.
#pragma once

#include <exception>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "replay/landmark.h"

namespace rrkit::replay {

// What makes a Divergence a std::exception, so that whatever catches exceptions in general
// at a boundary (a thread, the addon) catches it too. Its own class because Divergence's
// field `what` hides the function of that name.
struct DivergenceException : std::exception {
  const char* what() const noexcept override { return "replay diverged"; }
};

struct Divergence : DivergenceException {
  Divergence() = default;
  Divergence(Landmark at_, std::string what_, std::string expected_, std::string actual_)
      : at(at_), what(std::move(what_)), expected(std::move(expected_)), actual(std::move(actual_)) {}

  Landmark at;
  std::string what;      // e.g. "input kind", "register hash", "memory hash"
  std::string expected;
  std::string actual;
};

// The one line for a divergence, the only place it is formatted:
// "replay diverged at vcpu 1 @ instruction 4000: register hash: expected 0x.., actual 0x..".
// `landmark_name`: what the engine's landmarks count, singular ("instruction", "exit").
std::string DescribeDivergence(const Divergence& divergence, std::string_view landmark_name);

// A replay of a complete log in which every vCPU reached its recorded end without the
// guest's exit (which a complete log ends with); `at`: the vCPU that got there last.
Divergence ExitNotReached(Landmark at);

struct Checkpoint;
// Every difference between a logged checkpoint and a taken one (empty when they agree).
std::vector<Divergence> CompareCheckpoints(const Checkpoint& expected, const Checkpoint& actual);

}  // namespace rrkit::replay
