#include "addon/js_error.h"

#include <new>
#include <stdexcept>
#include <string>
#include <system_error>

#include "crew/edge_validation.h"
#include "crew/replay_gate.h"
#include "emu/state_image.h"
#include "machine/image_error.h"
#include "replay/divergence.h"
#include "replay/log_error.h"

namespace rrkit::addon {
namespace {

template <class E>
Napi::Error WithCode(Napi::Env env, const std::string& message, const char* code) {
  Napi::Error error = E::New(env, message);
  error.Set("code", Napi::String::New(env, code));
  return error;
}

std::string In(std::string_view context, const std::string& message) {
  return std::string(context) + ": " + message;
}

}  // namespace

Napi::Error ErrorToJs(Napi::Env env, const std::exception_ptr& error, std::string_view context) {
  try {
    std::rethrow_exception(error);
  } catch (const Napi::Error& e) {
    return e;
  } catch (const replay::LogError& e) {
    Napi::Error out = WithCode<Napi::Error>(env, e.what(), replay::LogErrorCodeName(e.code()));
    out.Set("chunk", Napi::Number::New(env, static_cast<double>(e.chunk())));
    out.Set("offset", Napi::Number::New(env, static_cast<double>(e.offset())));
    out.Set("detail", Napi::String::New(env, e.detail()));
    return out;
  } catch (const replay::UnreplayableLog& e) {
    return WithCode<Napi::Error>(env, e.what(), "unreplayable-log");
  } catch (const crew::InvalidEdgeLog& e) {
    return WithCode<Napi::Error>(env, e.what(), "unreplayable-log");
  } catch (const machine::ImageError& e) {
    return WithCode<Napi::Error>(env, e.what(), "bad-image");
  } catch (const emu::StateImageError& e) {
    return WithCode<Napi::Error>(env, e.what(), "bad-state-image");
  } catch (const replay::Divergence& d) {
    Napi::Error out = WithCode<Napi::Error>(env, replay::DescribeDivergence(d, "landmark"), "diverged");
    Napi::Object divergence = Napi::Object::New(env);
    divergence.Set("vcpu", Napi::Number::New(env, d.at.vcpu));
    divergence.Set("count", Napi::BigInt::New(env, d.at.count));
    divergence.Set("what", d.what);
    divergence.Set("expected", d.expected);
    divergence.Set("actual", d.actual);
    out.Set("divergence", divergence);
    return out;
  } catch (const crew::ReplayStalled& e) {
    return WithCode<Napi::Error>(env, e.what(), "replay-stalled");
  } catch (const std::invalid_argument& e) {
    return WithCode<Napi::TypeError>(env, e.what(), "bad-argument");
  } catch (const std::out_of_range& e) {
    return WithCode<Napi::RangeError>(env, e.what(), "bad-argument");
  } catch (const std::length_error& e) {
    return WithCode<Napi::RangeError>(env, e.what(), "bad-argument");
  } catch (const std::bad_alloc&) {
    return WithCode<Napi::RangeError>(env, In(context, "out of memory"), "out-of-memory");
  } catch (const std::system_error& e) {
    Napi::Error out = WithCode<Napi::Error>(env, e.what(), "system");
    out.Set("errno", Napi::Number::New(env, e.code().value()));
    return out;
  } catch (const std::exception& e) {
    return WithCode<Napi::Error>(env, In(context, e.what()), "internal");
  } catch (...) {
    return WithCode<Napi::Error>(env, In(context, "an unknown C++ exception"), "internal");
  }
}

}  // namespace rrkit::addon
