// Each binding file registers the functions it exports with a static ExportRegistrar, so
// that adding an engine or a tool to the addon needs no edit to a central list.
#pragma once

#include <napi.h>

namespace rrkit::addon {

using ExportFn = void (*)(Napi::Env env, Napi::Object exports);

struct ExportRegistrar {
  ExportRegistrar(const char* name, ExportFn fn);
};

}  // namespace rrkit::addon
