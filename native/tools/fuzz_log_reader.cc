// libFuzzer target for the log reader: any input must either parse or throw LogError —
// never crash, hang, leak or read out of bounds (built with ASan and UBSan).
// Build and run: `npm run fuzz:log` (native/tools/fuzz-log-reader.sh).
#include <cstddef>
#include <cstdint>
#include <vector>

#include "replay/log_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    rrkit::replay::LogReader reader(std::vector<uint8_t>(data, data + size));
    while (reader.Next()) {
    }
  } catch (const rrkit::replay::LogError&) {
    // The expected outcome for most inputs.
  }
  return 0;
}
