// The micro benchmarks' exports (native/bench/micro_benchmarks.h), for `npm run bench --
// micro` only: benchLogAppend, benchPermissionCheck, benchEmuStateHash, benchKvmStateHash
// and benchOwnershipRoundTrip. Each takes a batch size and returns {ns, operations}.
#include <napi.h>

#include <cstdint>
#include <stdexcept>

#include "addon/js_args.h"
#include "addon/js_error.h"
#include "addon/registry.h"
#include "bench/micro_benchmarks.h"

namespace rrkit::addon {
namespace {

using TimedBatch = bench::BatchTiming (*)(uint64_t);

// A batch argument in [1, max]: big enough to time, small enough to end.
template <TimedBatch Run, uint64_t kMaxBatch>
Napi::Value Bench(const Napi::CallbackInfo& info) {
  return Guarded(info.Env(), "bench", [&]() -> Napi::Value {
    const double batch = NumberIn(info[0], "batch", 1, static_cast<double>(kMaxBatch));
    if (batch != static_cast<double>(static_cast<uint64_t>(batch))) throw std::out_of_range("batch must be a whole number");
    const bench::BatchTiming timing = Run(static_cast<uint64_t>(batch));
    Napi::Object result = Napi::Object::New(info.Env());
    result.Set("ns", Napi::Number::New(info.Env(), static_cast<double>(timing.ns)));
    result.Set("operations", Napi::Number::New(info.Env(), static_cast<double>(timing.operations)));
    return result;
  });
}

void Export(Napi::Env env, Napi::Object exports) {
  exports.Set("benchLogAppend", Napi::Function::New(env, Bench<bench::TimeLogAppends, 100'000'000>, "benchLogAppend"));
  exports.Set("benchPermissionCheck", Napi::Function::New(env, Bench<bench::TimePermissionChecks, 10'000'000'000>, "benchPermissionCheck"));
  exports.Set("benchEmuStateHash", Napi::Function::New(env, Bench<bench::TimeEmuStateHash, 4096>, "benchEmuStateHash"));
  exports.Set("benchKvmStateHash", Napi::Function::New(env, Bench<bench::TimeKvmStateHash, 4096>, "benchKvmStateHash"));
  exports.Set("benchOwnershipRoundTrip", Napi::Function::New(env, Bench<bench::TimeOwnershipRoundTrips, 100'000'000>, "benchOwnershipRoundTrip"));
}

const ExportRegistrar registrar("bench", Export);

}  // namespace
}  // namespace rrkit::addon
