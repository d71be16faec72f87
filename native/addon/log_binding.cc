// The log's exports: logWrite (build a log from a JavaScript description of its records,
// for tests and fixtures) and logRead (the C++ reader, for cross-checking the TypeScript
// one). Record objects have the same shape as src/analysis/log-records.ts.
#include <chrono>
#include <memory>
#include <string>

#include "addon/js_error.h"
#include "addon/registry.h"
#include "replay/log_reader.h"
#include "replay/log_writer.h"

namespace rrkit::addon {
namespace {

using namespace rrkit::replay;

// --- JavaScript -> C++ ---

uint64_t U64(const Napi::Object& o, const char* key) {
  const Napi::Value v = o.Get(key);
  if (v.IsBigInt()) {
    bool lossless = false;
    const uint64_t out = v.As<Napi::BigInt>().Uint64Value(&lossless);
    if (!lossless) throw Napi::RangeError::New(o.Env(), std::string(key) + " does not fit in 64 bits");
    return out;
  }
  if (v.IsNumber()) {
    const double d = v.As<Napi::Number>().DoubleValue();
    if (!(d >= 0 && d <= 9'007'199'254'740'991.0) || d != static_cast<double>(static_cast<uint64_t>(d)))
      throw Napi::RangeError::New(o.Env(), std::string(key) + " must be a non-negative integer");
    return static_cast<uint64_t>(d);
  }
  throw Napi::TypeError::New(o.Env(), std::string(key) + " must be a bigint or a number");
}

// U64 with an upper bound (a field narrower than 64 bits).
uint64_t U64AtMost(const Napi::Object& o, const char* key, uint64_t max) {
  const uint64_t v = U64(o, key);
  if (v > max) throw Napi::RangeError::New(o.Env(), std::string(key) + " must be at most " + std::to_string(max));
  return v;
}

int64_t I64(const Napi::Object& o, const char* key) {
  const Napi::Value v = o.Get(key);
  if (v.IsBigInt()) {
    bool lossless = false;
    const int64_t out = v.As<Napi::BigInt>().Int64Value(&lossless);
    if (!lossless) throw Napi::RangeError::New(o.Env(), std::string(key) + " does not fit in 64 bits");
    return out;
  }
  if (v.IsNumber()) return v.As<Napi::Number>().Int64Value();
  throw Napi::TypeError::New(o.Env(), std::string(key) + " must be a bigint or a number");
}

std::string Str(const Napi::Object& o, const char* key) {
  const Napi::Value v = o.Get(key);
  if (!v.IsString()) throw Napi::TypeError::New(o.Env(), std::string(key) + " must be a string");
  return v.As<Napi::String>().Utf8Value();
}

Napi::Object Obj(const Napi::Object& o, const char* key) {
  const Napi::Value v = o.Get(key);
  if (!v.IsObject()) throw Napi::TypeError::New(o.Env(), std::string(key) + " must be an object");
  return v.As<Napi::Object>();
}

Landmark LandmarkFrom(const Napi::Object& o) { return {static_cast<uint32_t>(U64AtMost(o, "vcpu", UINT32_MAX)), U64(o, "count")}; }

// {vcpus: [{count, registerHash}], memoryHash}
Checkpoint CheckpointFrom(const Napi::Object& o) {
  Checkpoint c;
  const Napi::Array vcpus = o.Get("vcpus").As<Napi::Array>();
  for (uint32_t i = 0; i < vcpus.Length(); ++i) {
    const Napi::Object v = vcpus.Get(i).As<Napi::Object>();
    c.vcpus.push_back({{i, U64(v, "count")}, U64(v, "registerHash")});
  }
  c.memory_hash = U64(o, "memoryHash");
  return c;
}

Record RecordFrom(const Napi::Object& o) {
  const std::string type = Str(o, "type");
  if (type == "input") return InputRecord{LandmarkFrom(o), static_cast<InputKind>(U64AtMost(o, "kind", 255)), U64(o, "value")};
  if (type == "rare-outcome") return RareOutcomeRecord{LandmarkFrom(o), static_cast<InputKind>(U64AtMost(o, "kind", 255)), U64(o, "value")};
  if (type == "interrupt") return InterruptRecord{LandmarkFrom(o), U64(o, "cause")};
  if (type == "checkpoint") return CheckpointRecord{CheckpointFrom(o)};
  if (type == "crew-transfer") return CrewTransferRecord{U64(o, "page"), LandmarkFrom(Obj(o, "from")), LandmarkFrom(Obj(o, "to"))};
  if (type == "machine-stop") {
    const OutputDigest output{o.Has("outputBytes") ? U64(o, "outputBytes") : 0, o.Has("outputHash") ? U64(o, "outputHash") : 0};
    return MachineStopRecord{LandmarkFrom(o), I64(o, "exitCode"), CheckpointFrom(o), output};
  }
  if (type == "dma-write") {
    const Napi::Value data = o.Get("data");
    if (!data.IsTypedArray()) throw Napi::TypeError::New(o.Env(), "data must be a Uint8Array");
    const Napi::Uint8Array bytes = data.As<Napi::Uint8Array>();
    return DmaWriteRecord{LandmarkFrom(o), U64(o, "address"), {bytes.Data(), bytes.Data() + bytes.ElementLength()}};
  }
  if (type == "delayed-interrupt") return DelayedInterruptRecord{LandmarkFrom(o), U64(o, "cause"), U64(o, "delayNs")};
  if (type == "disk-read") return DiskReadRecord{LandmarkFrom(o), U64(o, "address"), U64(o, "diskOffset"), U64(o, "length")};
  if (type == "mode-switch") return ModeSwitchRecord{LandmarkFrom(o), U64(o, "group"), o.Get("serialized").ToBoolean().Value()};
  if (type == "turn-switch") return TurnSwitchRecord{LandmarkFrom(o), static_cast<uint32_t>(U64(o, "next"))};
  if (type == "host-time") return HostTimeRecord{LandmarkFrom(o), U64(o, "ns"), static_cast<VcpuActivity>(U64(o, "activity"))};
  if (type == "crew-fault") {
    return CrewFaultRecord{LandmarkFrom(o), U64(o, "page"), o.Get("write").ToBoolean().Value(), U64(o, "edges")};
  }
  throw Napi::TypeError::New(o.Env(), "unknown record type " + type);
}

// "00ff..." as bytes; anything but an even number of hex digits is a TypeError.
std::vector<uint8_t> HexBytes(Napi::Env env, const std::string& hex, const char* key) {
  auto digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::vector<uint8_t> bytes;
  for (size_t i = 0; i < hex.size(); i += 2) {
    const int high = digit(hex[i]);
    const int low = i + 1 < hex.size() ? digit(hex[i + 1]) : -1;
    if (high < 0 || low < 0) throw Napi::TypeError::New(env, std::string(key) + " must be an even number of hex digits");
    bytes.push_back(static_cast<uint8_t>(high * 16 + low));
  }
  return bytes;
}

LogHeader HeaderFrom(const Napi::Object& o) {
  LogHeader h;
  h.engine = Str(o, "engine");
  h.image_hash = HexBytes(o.Env(), Str(o, "imageHash"), "imageHash");
  h.image_path = Str(o, "imagePath");
  const uint64_t vcpus = U64AtMost(o, "vcpus", 4096);
  if (vcpus == 0) throw Napi::RangeError::New(o.Env(), "vcpus must be at least 1");
  h.vcpus = static_cast<uint32_t>(vcpus);
  h.ram_mib = static_cast<uint32_t>(U64AtMost(o, "ramMib", UINT32_MAX));
  h.crew_granularity = static_cast<uint32_t>(U64AtMost(o, "crewGranularity", UINT32_MAX));
  h.checkpoint_interval = U64(o, "checkpointInterval");
  h.start_unix_ms = U64(o, "startUnixMs");
  h.config_json = Str(o, "configJson");
  return h;
}

// --- C++ -> JavaScript ---

Napi::Value Big(Napi::Env env, uint64_t v) { return Napi::BigInt::New(env, v); }

void PutLandmark(Napi::Object& o, Landmark at) {
  o.Set("vcpu", Napi::Number::New(o.Env(), at.vcpu));
  o.Set("count", Big(o.Env(), at.count));
}

void PutCheckpoint(Napi::Object& o, const Checkpoint& c) {
  Napi::Env env = o.Env();
  Napi::Array vcpus = Napi::Array::New(env, c.vcpus.size());
  for (uint32_t i = 0; i < c.vcpus.size(); ++i) {
    Napi::Object v = Napi::Object::New(env);
    v.Set("count", Big(env, c.vcpus[i].at.count));
    v.Set("registerHash", Big(env, c.vcpus[i].register_hash));
    vcpus.Set(i, v);
  }
  o.Set("vcpus", vcpus);
  o.Set("memoryHash", Big(env, c.memory_hash));
}

Napi::Object RecordTo(Napi::Env env, const Record& record) {
  Napi::Object o = Napi::Object::New(env);
  std::visit(
      [&](const auto& r) {
        using T = std::decay_t<decltype(r)>;
        if constexpr (std::is_same_v<T, InputRecord> || std::is_same_v<T, RareOutcomeRecord>) {
          o.Set("type", std::is_same_v<T, InputRecord> ? "input" : "rare-outcome");
          PutLandmark(o, r.at);
          o.Set("kind", Napi::Number::New(env, static_cast<int>(r.kind)));
          o.Set("value", Big(env, r.value));
        } else if constexpr (std::is_same_v<T, InterruptRecord>) {
          o.Set("type", "interrupt");
          PutLandmark(o, r.at);
          o.Set("cause", Big(env, r.cause));
        } else if constexpr (std::is_same_v<T, CheckpointRecord>) {
          o.Set("type", "checkpoint");
          PutCheckpoint(o, r.checkpoint);
        } else if constexpr (std::is_same_v<T, CrewTransferRecord>) {
          o.Set("type", "crew-transfer");
          o.Set("page", Big(env, r.page));
          Napi::Object from = Napi::Object::New(env), to = Napi::Object::New(env);
          PutLandmark(from, r.from);
          PutLandmark(to, r.to);
          o.Set("from", from);
          o.Set("to", to);
        } else if constexpr (std::is_same_v<T, MachineStopRecord>) {
          o.Set("type", "machine-stop");
          PutLandmark(o, r.exit_at);
          o.Set("exitCode", Napi::BigInt::New(env, r.exit_code));
          PutCheckpoint(o, r.final_state);
          o.Set("outputBytes", Big(env, r.output.bytes));
          o.Set("outputHash", Big(env, r.output.hash));
        } else if constexpr (std::is_same_v<T, DmaWriteRecord>) {
          o.Set("type", "dma-write");
          PutLandmark(o, r.at);
          o.Set("address", Big(env, r.address));
          o.Set("data", Napi::Buffer<uint8_t>::Copy(env, r.data.data(), r.data.size()));
        } else if constexpr (std::is_same_v<T, DelayedInterruptRecord>) {
          o.Set("type", "delayed-interrupt");
          PutLandmark(o, r.at);
          o.Set("cause", Big(env, r.cause));
          o.Set("delayNs", Big(env, r.delay_ns));
        } else if constexpr (std::is_same_v<T, CrewFaultRecord>) {
          o.Set("type", "crew-fault");
          PutLandmark(o, r.at);
          o.Set("page", Big(env, r.page));
          o.Set("write", r.write);
          o.Set("edges", Big(env, r.edges));
        } else if constexpr (std::is_same_v<T, DiskReadRecord>) {
          o.Set("type", "disk-read");
          PutLandmark(o, r.at);
          o.Set("address", Big(env, r.address));
          o.Set("diskOffset", Big(env, r.disk_offset));
          o.Set("length", Big(env, r.length));
        } else if constexpr (std::is_same_v<T, ModeSwitchRecord>) {
          o.Set("type", "mode-switch");
          PutLandmark(o, r.at);
          o.Set("group", Big(env, r.group));
          o.Set("serialized", Napi::Boolean::New(env, r.serialized));
        } else if constexpr (std::is_same_v<T, TurnSwitchRecord>) {
          o.Set("type", "turn-switch");
          PutLandmark(o, r.at);
          o.Set("next", Napi::Number::New(env, r.next));
        } else {
          static_assert(std::is_same_v<T, HostTimeRecord>);
          o.Set("type", "host-time");
          PutLandmark(o, r.at);
          o.Set("ns", Big(env, r.ns));
          o.Set("activity", Napi::Number::New(env, static_cast<uint8_t>(r.activity)));
        }
      },
      record);
  return o;
}

Napi::Object HeaderTo(Napi::Env env, const LogHeader& h) {
  Napi::Object o = Napi::Object::New(env);
  std::string hex;
  for (uint8_t b : h.image_hash) {
    static const char kDigits[] = "0123456789abcdef";
    hex += kDigits[b >> 4];
    hex += kDigits[b & 15];
  }
  o.Set("engine", h.engine);
  o.Set("imageHash", hex);
  o.Set("imagePath", h.image_path);
  o.Set("vcpus", Napi::Number::New(env, h.vcpus));
  o.Set("ramMib", Napi::Number::New(env, h.ram_mib));
  o.Set("crewGranularity", Napi::Number::New(env, h.crew_granularity));
  o.Set("checkpointInterval", Big(env, h.checkpoint_interval));
  o.Set("startUnixMs", Big(env, h.start_unix_ms));
  o.Set("configJson", h.config_json);
  return o;
}

// Argument `index` as an object, or a TypeError naming it.
Napi::Object ObjectArgument(const Napi::CallbackInfo& info, size_t index, const char* name) {
  if (info.Length() <= index || !info[index].IsObject()) throw Napi::TypeError::New(info.Env(), std::string(name) + " must be an object");
  return info[index].As<Napi::Object>();
}

// logWrite(path, {header, records, close, maxChunkBytes, deflateLevel?}): writes the log synchronously.
Napi::Value LogWrite(const Napi::CallbackInfo& info) {
  return Guarded(info.Env(), "logWrite", [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsString()) throw Napi::TypeError::New(env, "path must be a string");
    const std::string path = info[0].As<Napi::String>().Utf8Value();
    const Napi::Object description = ObjectArgument(info, 1, "the log description");
    const LogHeader header = HeaderFrom(Obj(description, "header"));
    if (!description.Get("records").IsArray()) throw Napi::TypeError::New(env, "records must be an array");
    const Napi::Array records = description.Get("records").As<Napi::Array>();
    const bool close = description.Get("close").ToBoolean();
    LogWriter::Options options;
    options.max_chunk_bytes = static_cast<size_t>(U64(description, "maxChunkBytes"));
    if (description.Has("deflateLevel")) {
      const uint64_t level = U64(description, "deflateLevel");
      if (level > 9) throw Napi::RangeError::New(env, "deflateLevel must be 0..9");
      options.deflate_level = static_cast<int>(level);
    }
    LogWriter writer(header, std::make_shared<FileChunkSink>(path), options);
    for (uint32_t i = 0; i < records.Length(); ++i) {
      const Napi::Value record = records.Get(i);
      if (!record.IsObject()) throw Napi::TypeError::New(env, "records[" + std::to_string(i) + "] must be an object");
      writer.Append(RecordFrom(record.As<Napi::Object>()));
    }
    if (close) writer.Close();
    return env.Undefined();
  });
}

// logRead(bytes): {header, records, complete, chunks, bytes}; a bad log throws an Error
// with code ("bad-crc", ...), chunk (-1 header, -2 trailer), offset and detail.
Napi::Value LogRead(const Napi::CallbackInfo& info) {
  return Guarded(info.Env(), "logRead", [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
      throw Napi::TypeError::New(env, "logRead takes the log's bytes as a Uint8Array");
    const Napi::Uint8Array input = info[0].As<Napi::Uint8Array>();
    const LogContents log = ReadLog({input.Data(), input.Data() + input.ElementLength()});
    Napi::Object out = Napi::Object::New(env);
    out.Set("header", HeaderTo(env, log.header));
    Napi::Array records = Napi::Array::New(env, log.records.size());
    for (uint32_t i = 0; i < log.records.size(); ++i) records.Set(i, RecordTo(env, log.records[i]));
    out.Set("records", records);
    out.Set("complete", Napi::Boolean::New(env, log.complete));
    out.Set("chunks", Napi::Number::New(env, log.chunks));
    return out;
  });
}

void Export(Napi::Env env, Napi::Object exports) {
  exports.Set("logWrite", Napi::Function::New(env, LogWrite, "logWrite"));
  exports.Set("logRead", Napi::Function::New(env, LogRead, "logRead"));
}

const ExportRegistrar registrar("log", Export);

}  // namespace
}  // namespace rrkit::addon
