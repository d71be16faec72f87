// Checks a recorded edge list before replay, so that a bad log fails with a message
// instead of hanging: unknown vCPUs, self edges, counts past the end of a vCPU's
// execution (a truncated log), and cycles (vCPUs that would wait for each other forever).
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "crew/transfer_edge.h"

namespace rrkit::crew {

class InvalidEdgeLog : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Throws InvalidEdgeLog. `final_counts`, when known, is each vCPU's last landmark in the
// recording.
void ValidateEdges(uint32_t vcpus, const std::vector<TransferEdge>& edges,
                   const std::optional<std::vector<uint64_t>>& final_counts);

}  // namespace rrkit::crew
