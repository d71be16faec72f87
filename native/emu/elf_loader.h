// Loads a guest ELF: checks that it is an RV64 executable whose entry and loadable
// segments lie in RAM, and returns the image to copy in. Errors say what is wrong with
// which file, in one line.
#pragma once

#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>

#include "elf/loadable_segments.h"
#include "emu/boot_image.h"

namespace rrkit::emu {

using ElfError = elf::ElfError;

// `name` is used in error messages only (a path, or "the guest image").
BootImage LoadElf(std::span<const uint8_t> file, const std::string& name, uint64_t ram_bytes);

}  // namespace rrkit::emu
