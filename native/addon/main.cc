// The addon's entry point: runs every registered binding's export function.
#include <string>
#include <utility>
#include <vector>

#include "addon/registry.h"

namespace rrkit::addon {
namespace {

std::vector<std::pair<std::string, ExportFn>>& Registry() {
  static std::vector<std::pair<std::string, ExportFn>> registry;
  return registry;
}

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  Napi::Array modules = Napi::Array::New(env);
  uint32_t index = 0;
  for (const auto& [name, fn] : Registry()) {
    fn(env, exports);
    modules.Set(index++, Napi::String::New(env, name));
  }
  exports.Set("modules", modules);
  return exports;
}

ExportRegistrar::ExportRegistrar(const char* name, ExportFn fn) { Registry().emplace_back(name, fn); }

}  // namespace rrkit::addon

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return rrkit::addon::Init(env, exports); }

NODE_API_MODULE(rrkit, InitAddon)
