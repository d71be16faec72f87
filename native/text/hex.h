// Hexadecimal text for addresses and values in error messages and reports ("0x80001000").
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

namespace rrkit::text {

inline std::string Hex(uint64_t value) {
  char text[24];
  std::snprintf(text, sizeof text, "0x%llx", static_cast<unsigned long long>(value));
  return text;
}

}  // namespace rrkit::text
