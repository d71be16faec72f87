#include "emu/test_finisher.h"

#include "emu/board.h"

namespace rrkit::emu {

void TestFinisher::Write(uint64_t offset, unsigned size, uint64_t value, replay::Landmark at) {
  if (offset != 0 || size < 4) return;
  const uint32_t status = static_cast<uint32_t>(value) & 0xffff;
  const int code = static_cast<int>((value >> 16) & 0xffff);
  if (status == 0x5555) events_.ExitRequested(at, 0);
  else if (status == 0x3333) events_.ExitRequested(at, code == 0 ? 1 : code);
  // 0x7777 (reset) and anything else: QEMU resets or ignores; rrkit ignores.
}

}  // namespace rrkit::emu
