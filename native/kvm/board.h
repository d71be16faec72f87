// The x86_64 board's devices page (docs/platform.md): one page of 64-bit MMIO registers.
// guests/x86_64/devices.h is the guest's copy of these numbers.
#pragma once

#include <cstdint>

namespace rrkit::kvm {

inline constexpr uint64_t kDevicesBase = 0xd000'0000;
inline constexpr uint64_t kDevicesSize = 0x1000;

// Register offsets in the devices page.
enum class DeviceRegister : uint64_t {
  kConsoleTransmit = 0x00,  // write: low byte to the console
  kConsoleReceive = 0x08,   // read: next input byte, or all ones when none waits
  kExit = 0x10,             // write: stop the machine with this exit code (low 32 bits)
  kClockNs = 0x18,          // read: host clock in ns since the machine started (logged)
  kEntropy = 0x20,          // read: 64 bits of host entropy (logged)
  kTimerPeriodNs = 0x28,    // write: periodic timer period; 0 stops it
  kHarts = 0x30,            // read: number of harts (vCPUs)
  kEndOfInterrupt = 0x38,   // write: the vector whose handler has finished
  kDiskSectors = 0x40,      // read: disk size in 512-byte sectors (0: no disk)
  kDiskSector = 0x48,       // write: first sector of the next request
  kDiskAddress = 0x50,      // write: guest-physical address of the request's buffer
  kDiskCount = 0x58,        // write: sectors to read; starts the request
  kDiskStatus = 0x60,       // read: DiskStatus
  kConsoleWrite = 0x68,     // write: transmit bytes from guest memory (ConsoleWrite), a line per exit
  kRelax = 0x70,            // write: the spin-wait hint (cpu_relax): an exit, so a spinning hart reaches landmarks
  kPark = 0x78,             // write: this hart is done (a hart other than 0 returned from main)
};

// Each hart's own memory (guests/x86_64/hart_area.h): RRKIT_MAX_HARTS areas from the ELF
// symbol __hart_areas. The VMM enters hart h with rsi = FS.base = its area and rsp =
// TSS.RSP0 = the area's boot stack top.
inline constexpr uint32_t kMaxVcpus = 8;  // RRKIT_MAX_HARTS
inline constexpr uint64_t kHartAreaBytes = 0x26000;
inline constexpr uint64_t kHartBootStackTop = 0x6000;

// The console-buffer write's value: the guest-physical address in bits 0..47, the length
// in bits 48..63 (at most kConsoleBufferMax).
inline constexpr uint64_t kConsoleBufferMax = 4096;
inline constexpr int kConsoleWriteLengthShift = 48;

// Interrupt vectors the board raises.
inline constexpr uint8_t kTimerVector = 0x20;
inline constexpr uint8_t kDiskVector = 0x21;

}  // namespace rrkit::kvm
