// What every engine's binding reads from its JavaScript arguments, checked: a bad argument is
// std::invalid_argument or std::out_of_range naming it (addon/js_error.h makes it a
// TypeError or RangeError), never a crash.
#pragma once

#include <napi.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "replay/log_reader.h"
#include "replay/log_writer.h"

namespace rrkit::addon {

// A bigint from 0 to 2^64-1.
uint64_t ToU64(const Napi::Value& value, const char* name);

// A number argument in [min, max].
double NumberIn(const Napi::Value& value, const char* name, double min, double max);

// A shuffled schedule's seed (machine/schedule_shuffle.h): an integer from 0 to 2^32-1, or
// absent (undefined): 0, no shuffle.
uint64_t ShuffleSeedOf(const Napi::Value& value, const char* name);

// A Buffer's bytes, copied.
std::vector<uint8_t> BytesOf(const Napi::Value& value, const char* name);

// The log a replay reads: the file as it is; (follow_ms non-negative) as a recording goes on
// writing it, giving up after follow_ms without a new byte (0: never); or (stream_fd
// non-negative) as it arrives on a pipe or socket, to the writer's close.
std::unique_ptr<replay::LogReader> OpenLog(const std::string& path, double follow_ms, int stream_fd = -1);

// A recording's writer options from a session (or thenRun) object: deflateLevel (0..9) and
// maxQueuedLogBytes (sealed chunks waiting to be written before Append waits: a replica's
// engine keeps it small, so that a primary that stops reading its log holds the guest back
// soon, src/replication/), each optional.
replay::LogWriter::Options LogWriterOptionsFrom(const Napi::Object& from);

}  // namespace rrkit::addon
