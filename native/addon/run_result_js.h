// A run's result as JavaScript sees it (src/native.ts's NativeRunResult): one conversion
// for every engine's binding.
#pragma once

#include <napi.h>

#include "machine/run_result.h"
#include "replay/replaying_world.h"

namespace rrkit::addon {

// `replay`: what a replay read and checked (null for other runs): the result's `replay`,
// and `logComplete` (the log was read to its trailer; true for other runs).
Napi::Object RunResultToJs(Napi::Env env, const machine::RunResult& result, const replay::ReplayReport* replay);

}  // namespace rrkit::addon
