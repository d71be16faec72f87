// A run's result as JavaScript sees it (src/native.ts's NativeRunResult): one conversion
// for every engine's binding.
#pragma once

#include <napi.h>

#include "machine/run_result.h"

namespace rrkit::addon {

// `log_complete`: a replay's log had its trailer (true for other runs).
Napi::Object RunResultToJs(Napi::Env env, const machine::RunResult& result, bool log_complete);

}  // namespace rrkit::addon
