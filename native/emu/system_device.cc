#include "emu/system_device.h"

#include <sys/random.h>

#include <array>
#include <stdexcept>

namespace rrkit::emu {
namespace {

// Host entropy, fetched 64 values per getrandom call (a system call per 8 bytes would cost
// more than everything else a read of the register does), buffered per hart thread.
uint64_t HostEntropy() {
  constexpr size_t kBuffered = 64;
  thread_local std::array<uint64_t, kBuffered> buffer;
  thread_local size_t next = kBuffered;
  if (next == kBuffered) {
    if (getrandom(buffer.data(), sizeof buffer, 0) != static_cast<ssize_t>(sizeof buffer))
      throw std::runtime_error("getrandom for the rrkit entropy register failed");
    next = 0;
  }
  return buffer[next++];
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
