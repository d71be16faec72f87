#include "addon/run_result_js.h"

namespace rrkit::addon {
namespace {

Napi::Array CountsToJs(Napi::Env env, const replay::Checkpoint& checkpoint) {
  Napi::Array counts = Napi::Array::New(env, checkpoint.vcpus.size());
  for (uint32_t i = 0; i < checkpoint.vcpus.size(); ++i) counts.Set(i, Napi::BigInt::New(env, checkpoint.vcpus[i].at.count));
  return counts;
}

// src/native.ts's NativeReplayReport.
Napi::Object ReplayReportToJs(Napi::Env env, const replay::ReplayReport& report) {
  Napi::Object out = Napi::Object::New(env);
  out.Set("chunks", Napi::Number::New(env, report.chunks));
  out.Set("records", Napi::Number::New(env, static_cast<double>(report.records)));
  out.Set("ended", report.ended);
  out.Set("complete", report.complete);
  out.Set("checkpointsCompared", Napi::Number::New(env, static_cast<double>(report.checkpoints_compared)));
  if (report.last_matching_checkpoint) out.Set("lastMatchingCheckpoint", CountsToJs(env, *report.last_matching_checkpoint));
  if (report.live_from) {
    Napi::Array counts = Napi::Array::New(env, report.live_from->size());
    for (uint32_t i = 0; i < report.live_from->size(); ++i) counts.Set(i, Napi::BigInt::New(env, (*report.live_from)[i]));
    out.Set("liveFrom", counts);
  }
  if (report.damage) {
    Napi::Object damage = Napi::Object::New(env);
    damage.Set("code", replay::LogErrorCodeName(report.damage->code));
    damage.Set("chunk", Napi::Number::New(env, static_cast<double>(report.damage->chunk)));
    damage.Set("offset", Napi::Number::New(env, static_cast<double>(report.damage->offset)));
    damage.Set("detail", report.damage->detail);
    out.Set("damage", damage);
  }
  return out;
}

}  // namespace

Napi::Object RunResultToJs(Napi::Env env, const machine::RunResult& result, const replay::ReplayReport* replay) {
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
  out.Set("logComplete", replay == nullptr || replay->complete);
  out.Set("interrupts", Napi::Number::New(env, static_cast<double>(result.interrupts_taken)));
  if (replay != nullptr) out.Set("replay", ReplayReportToJs(env, *replay));
  out.Set("console", Napi::Buffer<char>::Copy(env, result.console.data(), result.console.size()));
  return out;
}

}  // namespace rrkit::addon
