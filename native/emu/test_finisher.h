// QEMU's sifive_test device: a 32-bit write stops the machine (0x5555 pass,
// (code << 16) | 0x3333 fail with `code`).
#pragma once

#include <cstdint>

#include "machine/device.h"

namespace rrkit::emu {

class BoardEvents;

class TestFinisher final : public machine::Device {
 public:
  explicit TestFinisher(BoardEvents& events) : events_(events) {}
  uint64_t Read(uint64_t, unsigned, replay::Landmark) override { return 0; }
  void Write(uint64_t offset, unsigned size, uint64_t value, replay::Landmark at) override;

 private:
  BoardEvents& events_;
};

}  // namespace rrkit::emu
