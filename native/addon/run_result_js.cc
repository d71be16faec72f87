#include "addon/run_result_js.h"

namespace rrkit::addon {

Napi::Object RunResultToJs(Napi::Env env, const machine::RunResult& result, bool log_complete) {
  Napi::Object out = Napi::Object::New(env);
  out.Set("outcome", machine::OutcomeName(result.outcome));
  out.Set("exitCode", result.exit_code);
  out.Set("exitVcpu", result.exit_at.vcpu);
  out.Set("exitLandmark", Napi::BigInt::New(env, result.exit_at.count));
  out.Set("error", result.error);
  if (result.divergence) {
    const replay::Divergence& d = *result.divergence;
    Napi::Object divergence = Napi::Object::New(env);
    divergence.Set("vcpu", d.at.vcpu);
    divergence.Set("count", Napi::BigInt::New(env, d.at.count));
    divergence.Set("what", d.what);
    divergence.Set("expected", d.expected);
    divergence.Set("actual", d.actual);
    out.Set("divergence", divergence);
  }
  Napi::Array vcpus = Napi::Array::New(env, result.vcpus.size());
  for (uint32_t i = 0; i < result.vcpus.size(); ++i) {
    Napi::Object vcpu = Napi::Object::New(env);
    vcpu.Set("landmark", Napi::BigInt::New(env, result.vcpus[i].landmark));
    vcpu.Set("pc", Napi::BigInt::New(env, result.vcpus[i].pc));
    vcpu.Set("registerHash", Napi::BigInt::New(env, result.vcpus[i].register_hash));
    vcpus.Set(i, vcpu);
  }
  out.Set("vcpus", vcpus);
  out.Set("memoryHash", Napi::BigInt::New(env, result.memory_hash));
  out.Set("stateHash", Napi::BigInt::New(env, result.state_hash));
  out.Set("wallSeconds", result.wall_seconds);
  out.Set("logComplete", log_complete);
  out.Set("interrupts", Napi::Number::New(env, static_cast<double>(result.interrupts_taken)));
  out.Set("checkpointsCompared", Napi::Number::New(env, static_cast<double>(result.checkpoints_compared)));
  out.Set("console", Napi::Buffer<char>::Copy(env, result.console.data(), result.console.size()));
  return out;
}

}  // namespace rrkit::addon
