// C++ exceptions as JavaScript errors, for every binding entry point. node-addon-api passes
// only Napi::Error on to JavaScript; any other exception leaving a binding would abort Node.
// So every entry point runs its body through Guarded (or, on a worker thread, keeps the
// exception for ErrorToJs on the JavaScript thread), and the error keeps what TypeScript
// needs to tell a damaged log from a bad image, a bad argument or rrkit failing:
//
//   replay::LogError        Error       code = the log error's ("bad-crc", ...), chunk, offset, detail
//   replay::UnreplayableLog,
//   crew::InvalidEdgeLog    Error       code "unreplayable-log"
//   machine::ImageError     Error       code "bad-image"
//   emu::StateImageError    Error       code "bad-state-image"
//   replay::Divergence      Error       code "diverged", divergence {vcpu, count, what, expected, actual}
//   crew::ReplayStalled     Error       code "replay-stalled"
//   std::invalid_argument   TypeError   code "bad-argument"
//   std::out_of_range,
//   std::length_error       RangeError  code "bad-argument"
//   std::bad_alloc          RangeError  code "out-of-memory"
//   std::system_error       Error       code "system", errno
//   anything else           Error       code "internal"
//
// `context` (the entry point's name) starts the message of "internal" and "out-of-memory"
// errors, whose own text may not say where they came from.
#pragma once

#include <napi.h>

#include <exception>
#include <string_view>
#include <utility>

namespace rrkit::addon {

Napi::Error ErrorToJs(Napi::Env env, const std::exception_ptr& error, std::string_view context);

// Runs `body` (returning a Napi::Value); any C++ exception becomes a thrown JavaScript error.
template <class Body>
Napi::Value Guarded(Napi::Env env, std::string_view context, Body&& body) {
  try {
    return std::forward<Body>(body)();
  } catch (const Napi::Error&) {
    throw;
  } catch (...) {
    throw ErrorToJs(env, std::current_exception(), context);
  }
}

}  // namespace rrkit::addon
