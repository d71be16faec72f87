// QEMU's sifive_test device: a 32-bit write stops the machine (0x5555 pass,
// (code << 16) | 0x3333 fail with `code`).
#pragma once

#include <cstdint>

#include "emu/device.h"

namespace rrkit::emu {

inline constexpr uint64_t kTestFinisherBase = 0x0010'0000;
inline constexpr uint64_t kTestFinisherSize = 0x1000;

class TestFinisher final : public Device {
 public:
  explicit TestFinisher(BoardEvents& events) : events_(events) {}
  uint64_t Read(uint64_t, unsigned, replay::Landmark) override { return 0; }
  void Write(uint64_t offset, unsigned size, uint64_t value, replay::Landmark at) override;

 private:
  BoardEvents& events_;
};

}  // namespace rrkit::emu
