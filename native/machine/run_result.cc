#include "machine/run_result.h"

namespace rrkit::machine {

const char* OutcomeName(Outcome outcome) {
  switch (outcome) {
    case Outcome::kExited: return "exited";
    case Outcome::kReachedCounts: return "reached-counts";
    case Outcome::kFault: return "fault";
    case Outcome::kTimeout: return "timeout";
    case Outcome::kHostError: return "host-error";
    case Outcome::kDiverged: return "diverged";
    case Outcome::kInterrupted: return "interrupted";
    case Outcome::kLogDamaged: return "log-damaged";
  }
  return "host-error";
}

}  // namespace rrkit::machine
