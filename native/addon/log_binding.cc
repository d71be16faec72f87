// The log's exports: logWrite (build a log from a JavaScript description of its records,
// for tests and fixtures) and logRead (the C++ reader, for cross-checking the TypeScript
// one). Record objects have the same shape as src/analysis/log-records.ts.
#include <chrono>
#include <memory>
#include <string>

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
  if (v.IsNumber()) return static_cast<uint64_t>(v.As<Napi::Number>().Int64Value());
  throw Napi::TypeError::New(o.Env(), std::string(key) + " must be a bigint or a number");
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

Landmark LandmarkFrom(const Napi::Object& o) { return {static_cast<uint32_t>(U64(o, "vcpu")), U64(o, "count")}; }

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
  if (type == "input") return InputRecord{LandmarkFrom(o), static_cast<InputKind>(U64(o, "kind")), U64(o, "value")};
  if (type == "rare-outcome") return RareOutcomeRecord{LandmarkFrom(o), static_cast<InputKind>(U64(o, "kind")), U64(o, "value")};
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
  if (type == "host-time") return HostTimeRecord{LandmarkFrom(o), U64(o, "ns"), static_cast<VcpuActivity>(U64(o, "activity"))};
  if (type == "crew-fault") {
    return CrewFaultRecord{LandmarkFrom(o), U64(o, "page"), o.Get("write").ToBoolean().Value(), U64(o, "edges")};
  }
  throw Napi::TypeError::New(o.Env(), "unknown record type " + type);
}

LogHeader HeaderFrom(const Napi::Object& o) {
  LogHeader h;
  h.engine = Str(o, "engine");
  const std::string hex = Str(o, "imageHash");
  if (hex.size() % 2 != 0) throw Napi::TypeError::New(o.Env(), "imageHash must be hex");
  for (size_t i = 0; i < hex.size(); i += 2) h.image_hash.push_back(static_cast<uint8_t>(std::stoul(hex.substr(i, 2), nullptr, 16)));
  h.image_path = Str(o, "imagePath");
  h.vcpus = static_cast<uint32_t>(U64(o, "vcpus"));
  h.ram_mib = static_cast<uint32_t>(U64(o, "ramMib"));
  h.crew_granularity = static_cast<uint32_t>(U64(o, "crewGranularity"));
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

// logWrite(path, {header, records, close, maxChunkBytes, deflateLevel?}): writes the log synchronously.
Napi::Value LogWrite(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string path = info[0].As<Napi::String>().Utf8Value();
  const Napi::Object description = info[1].As<Napi::Object>();
  const LogHeader header = HeaderFrom(Obj(description, "header"));
  const Napi::Array records = description.Get("records").As<Napi::Array>();
  const bool close = description.Get("close").ToBoolean();
  LogWriter::Options options;
  options.max_chunk_bytes = static_cast<size_t>(U64(description, "maxChunkBytes"));
  if (description.Has("deflateLevel")) options.deflate_level = static_cast<int>(U64(description, "deflateLevel"));
  if (options.deflate_level < 0 || options.deflate_level > 9) throw Napi::RangeError::New(env, "deflateLevel must be 0..9");
  try {
    LogWriter writer(header, std::make_shared<FileChunkSink>(path), options);
    for (uint32_t i = 0; i < records.Length(); ++i) writer.Append(RecordFrom(records.Get(i).As<Napi::Object>()));
    if (close) writer.Close();
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, std::string("logWrite: ") + e.what());
  }
  return env.Undefined();
}

// logRead(bytes): {header, records, complete, chunks, bytes}; a bad log throws an Error
// with code ("bad-crc", ...), chunk (-1 header, -2 trailer) and offset.
Napi::Value LogRead(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Napi::Uint8Array input = info[0].As<Napi::Uint8Array>();
  try {
    const LogContents log = ReadLog({input.Data(), input.Data() + input.ElementLength()});
    Napi::Object out = Napi::Object::New(env);
    out.Set("header", HeaderTo(env, log.header));
    Napi::Array records = Napi::Array::New(env, log.records.size());
    for (uint32_t i = 0; i < log.records.size(); ++i) records.Set(i, RecordTo(env, log.records[i]));
    out.Set("records", records);
    out.Set("complete", Napi::Boolean::New(env, log.complete));
    out.Set("chunks", Napi::Number::New(env, log.chunks));
    return out;
  } catch (const LogError& e) {
    Napi::Error error = Napi::Error::New(env, e.what());
    error.Set("code", LogErrorCodeName(e.code()));
    error.Set("chunk", Napi::Number::New(env, static_cast<double>(e.chunk())));
    error.Set("offset", Napi::Number::New(env, static_cast<double>(e.offset())));
    throw error;
  }
}

void Export(Napi::Env env, Napi::Object exports) {
  exports.Set("logWrite", Napi::Function::New(env, LogWrite, "logWrite"));
  exports.Set("logRead", Napi::Function::New(env, LogRead, "logRead"));
}

const ExportRegistrar registrar("log", Export);

}  // namespace
}  // namespace rrkit::addon
