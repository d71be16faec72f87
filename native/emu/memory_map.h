// The emu board's memory map and limits (docs/platform.md): a subset of QEMU's `virt`
// machine, so that the same guest ELF runs under qemu-system-riscv64 -machine virt.
#pragma once

#include <cstdint>

namespace rrkit::emu {

// The most harts a machine has. src/engines/emu.ts checks against it (the addon exports
// it as emuMaxHarts); the guest runtime parks harts beyond it (RRKIT_MAX_HARTS).
inline constexpr uint32_t kMaxHarts = 64;

inline constexpr uint64_t kRamBase = 0x8000'0000;

inline constexpr uint64_t kTestFinisherBase = 0x0010'0000;
inline constexpr uint64_t kTestFinisherSize = 0x1000;
inline constexpr uint64_t kSystemDeviceBase = 0x0011'0000;
inline constexpr uint64_t kSystemDeviceSize = 0x1000;
inline constexpr uint64_t kClintBase = 0x0200'0000;
inline constexpr uint64_t kClintSize = 0x1'0000;
inline constexpr uint64_t kUartBase = 0x1000'0000;
inline constexpr uint64_t kUartSize = 0x100;

}  // namespace rrkit::emu
