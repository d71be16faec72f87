#include "addon/wall_samples_js.h"

#include <stdexcept>

namespace rrkit::addon {

std::optional<WallSamples> WallSamplesFrom(const Napi::Object& session, replay::Session& recording) {
  const Napi::Value value = session.Get("wallSampleUs");
  if (!value.IsNumber() || value.As<Napi::Number>().DoubleValue() == 0) return std::nullopt;
  const double us = value.As<Napi::Number>().DoubleValue();
  if (!(us >= 10 && us <= 60'000'000)) throw std::invalid_argument("session.wallSampleUs must be from 10 to 60000000");
  replay::LogWriter* writer = recording.writer();
  if (writer == nullptr) throw std::invalid_argument("session.wallSampleUs: only a recording keeps wall-clock samples");
  return WallSamples{[writer](const replay::HostTimeRecord& r) { writer->Append(r); },
                     std::chrono::microseconds(static_cast<int64_t>(us))};
}

}  // namespace rrkit::addon
