// `session.wallSampleUs` (rrkit record --wall-samples) as every engine's binding reads it:
// the period between a running vCPU's samples, and a sink that appends them to the log.
#pragma once

#include <napi.h>

#include <chrono>
#include <optional>

#include "machine/host_time_samples.h"
#include "replay/session.h"

namespace rrkit::addon {

struct WallSamples {
  machine::HostTimeSamples::Sink sink;
  std::chrono::microseconds period;
};

// Nothing when the session asks for no samples (absent or 0); throws std::invalid_argument
// for a period out of range. The sink writes to `recording`'s log, which must outlive it.
std::optional<WallSamples> WallSamplesFrom(const Napi::Object& session, replay::Session& recording);

}  // namespace rrkit::addon
