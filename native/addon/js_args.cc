#include "addon/js_args.h"

#include <chrono>
#include <stdexcept>

#include "replay/chunk_source.h"

namespace rrkit::addon {

uint64_t ToU64(const Napi::Value& value, const char* name) {
  if (!value.IsBigInt()) throw std::invalid_argument(std::string(name) + " must be a bigint");
  bool lossless = true;
  const uint64_t out = value.As<Napi::BigInt>().Uint64Value(&lossless);
  if (!lossless) throw std::out_of_range(std::string(name) + " must be a bigint from 0 to 2^64-1");
  return out;
}

double NumberIn(const Napi::Value& value, const char* name, double min, double max) {
  if (!value.IsNumber()) throw std::invalid_argument(std::string(name) + " must be a number");
  const double d = value.As<Napi::Number>().DoubleValue();
  if (!(d >= min && d <= max)) throw std::out_of_range(std::string(name) + " is out of range");
  return d;
}

uint64_t ShuffleSeedOf(const Napi::Value& value, const char* name) {
  if (value.IsUndefined()) return 0;
  const double seed = NumberIn(value, name, 0, 4294967295.0);
  if (seed != static_cast<double>(static_cast<uint64_t>(seed))) throw std::invalid_argument(std::string(name) + " must be an integer");
  return static_cast<uint64_t>(seed);
}

std::vector<uint8_t> BytesOf(const Napi::Value& value, const char* name) {
  if (!value.IsBuffer()) throw std::invalid_argument(std::string(name) + " must be a Buffer");
  const auto bytes = value.As<Napi::Buffer<uint8_t>>();
  return std::vector<uint8_t>(bytes.Data(), bytes.Data() + bytes.Length());
}

std::unique_ptr<replay::LogReader> OpenLog(const std::string& path, double follow_ms, int stream_fd) {
  if (stream_fd >= 0) {
    return std::make_unique<replay::LogReader>(
        std::make_unique<replay::StreamChunkSource>(stream_fd, "the log stream on fd " + std::to_string(stream_fd)));
  }
  if (follow_ms < 0) return replay::LogReader::Open(path);
  return std::make_unique<replay::LogReader>(std::make_unique<replay::FollowingFileChunkSource>(
      path, std::chrono::milliseconds(static_cast<int64_t>(follow_ms))));
}

replay::LogWriter::Options LogWriterOptionsFrom(const Napi::Object& from) {
  replay::LogWriter::Options writer;
  const Napi::Value level = from.Get("deflateLevel");
  if (!level.IsUndefined()) {
    const double d = level.IsNumber() ? level.As<Napi::Number>().DoubleValue() : -1;
    if (!(d >= 0 && d <= 9 && d == static_cast<int>(d))) throw std::out_of_range("session.deflateLevel must be 0..9");
    writer.deflate_level = static_cast<int>(d);
  }
  const Napi::Value queued = from.Get("maxQueuedLogBytes");
  if (!queued.IsUndefined()) {
    writer.max_queued_bytes = static_cast<size_t>(NumberIn(queued, "session.maxQueuedLogBytes", 0, 1e15));
  }
  return writer;
}

}  // namespace rrkit::addon
