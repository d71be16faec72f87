// rrkit's system device (docs/platform.md): identification, hart count and host entropy.
// Absent under QEMU; the guest runtime probes the id register.
#pragma once

#include <cstdint>

#include "machine/device.h"
#include "replay/world.h"

namespace rrkit::emu {

inline constexpr uint32_t kSystemDeviceMagic = 0x544b5252;  // "RRKT"

class SystemDevice final : public machine::Device {
 public:
  SystemDevice(uint32_t harts, replay::World& world) : harts_(harts), world_(world) {}
  uint64_t Read(uint64_t offset, unsigned size, replay::Landmark at) override;
  void Write(uint64_t, unsigned, uint64_t, replay::Landmark) override {}

 private:
  uint32_t harts_;
  replay::World& world_;
};

}  // namespace rrkit::emu
