#include "replay/replay_then_live_world.h"

namespace rrkit::replay {

void ReplayThenLiveWorld::MachineStopped(Landmark exit_at, int exit_code, const Checkpoint& final_state,
                                         const OutputDigest& output) {
  if (is_live()) {
    live_.MachineStopped(exit_at, exit_code, final_state, output);
    return;
  }
  // The guest stopped within the replayed log: the next log is its copy, stop record and all.
  replaying_.MachineStopped(exit_at, exit_code, final_state, output);
  if (next_log_ != nullptr) next_log_->Close();
}

std::optional<std::vector<uint64_t>> ReplayThenLiveWorld::SwitchLandmarks() {
  if (is_live() || !replaying_.log_ended() || replaying_.stopped_in_log()) return std::nullopt;
  return replaying_.LastLandmarks();
}

}  // namespace rrkit::replay
