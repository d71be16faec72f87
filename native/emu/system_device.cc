#include "emu/system_device.h"

#include <sys/random.h>

#include <stdexcept>

namespace rrkit::emu {
namespace {

uint64_t HostEntropy() {
  uint64_t value = 0;
  if (getrandom(&value, sizeof value, 0) != static_cast<ssize_t>(sizeof value))
    throw std::runtime_error("getrandom for the rrkit entropy register failed");
  return value;
}

}  // namespace

uint64_t SystemDevice::Read(uint64_t offset, unsigned size, replay::Landmark at) {
  switch (offset) {
    case 0x00: return kSystemDeviceMagic;
    case 0x04: return harts_;
    case 0x08: {
      const uint64_t value = world_.Input(at, replay::InputKind::kEntropy, HostEntropy);
      return size == 8 ? value : value & 0xffff'ffff;
    }
  }
  return 0;
}

}  // namespace rrkit::emu
