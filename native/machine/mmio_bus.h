// The MMIO bus: which device answers at a guest-physical address. Engines route every
// access outside RAM here (emu from its executor's slow path, kvm from its MMIO exits).
#pragma once

#include <cstdint>
#include <vector>

#include "machine/device.h"
#include "replay/landmark.h"

namespace rrkit::machine {

class MmioBus {
 public:
  // `device` answers for [base, base + size); ranges must not overlap. It must outlive the bus.
  void Map(uint64_t base, uint64_t size, Device& device);

  // False when no device is mapped at `addr` (the engine raises an access fault).
  bool Load(replay::Landmark at, uint64_t addr, unsigned size, uint64_t& value) const;
  bool Store(replay::Landmark at, uint64_t addr, unsigned size, uint64_t value) const;

 private:
  struct Range {
    uint64_t base;
    uint64_t size;
    Device* device;
  };
  const Range* Find(uint64_t addr) const;

  std::vector<Range> ranges_;
};

}  // namespace rrkit::machine
