// interruptRuns(): stops every run in progress in this process (machine/run_interrupts.h),
// for the rrkit command's SIGINT and SIGTERM handlers. Each run then resolves with outcome
// "interrupted"; a recording's log is sealed first and stays incomplete.
#include "addon/js_error.h"
#include "addon/registry.h"
#include "machine/run_interrupts.h"

namespace rrkit::addon {
namespace {

Napi::Value InterruptRuns(const Napi::CallbackInfo& info) {
  return Guarded(info.Env(), "interruptRuns", [&]() -> Napi::Value {
    return Napi::Number::New(info.Env(), machine::InterruptAllRuns());
  });
}

void Export(Napi::Env env, Napi::Object exports) {
  exports.Set("interruptRuns", Napi::Function::New(env, InterruptRuns, "interruptRuns"));
}

const ExportRegistrar registrar("runs", Export);

}  // namespace
}  // namespace rrkit::addon
