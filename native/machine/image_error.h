// A guest image an engine will not run: not an ELF of its architecture, segments outside
// RAM or overlapping, no entry point. Every engine's loader throws one (or a subclass), so
// that the addon reports it as a bad image (code "bad-image"), not as rrkit failing.
#pragma once

#include <stdexcept>

namespace rrkit::machine {

class ImageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace rrkit::machine
