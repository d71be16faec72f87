#include "machine/mmio_bus.h"

#include <stdexcept>
#include <string>

namespace rrkit::machine {

void MmioBus::Map(uint64_t base, uint64_t size, Device& device) {
  for (const Range& r : ranges_) {
    if (base < r.base + r.size && r.base < base + size)
      throw std::invalid_argument("MMIO ranges overlap at " + std::to_string(base));
  }
  ranges_.push_back({base, size, &device});
}

const MmioBus::Range* MmioBus::Find(uint64_t addr) const {
  for (const Range& r : ranges_)
    if (addr - r.base < r.size) return &r;
  return nullptr;
}

bool MmioBus::Load(replay::Landmark at, uint64_t addr, unsigned size, uint64_t& value) const {
  const Range* r = Find(addr);
  if (r == nullptr) return false;
  value = r->device->Read(addr - r->base, size, at);
  return true;
}

bool MmioBus::Store(replay::Landmark at, uint64_t addr, unsigned size, uint64_t value) const {
  const Range* r = Find(addr);
  if (r == nullptr) return false;
  r->device->Write(addr - r->base, size, value, at);
  return true;
}

}  // namespace rrkit::machine
