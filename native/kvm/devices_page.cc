#include "kvm/devices_page.h"

#include <sys/random.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <stdexcept>

#include "kvm/board.h"
#include "text/hex.h"

namespace rrkit::kvm {
namespace {

uint64_t HostEntropy() {
  uint64_t value = 0;
  auto* bytes = reinterpret_cast<uint8_t*>(&value);
  size_t done = 0;
  while (done < sizeof value) {
    const ssize_t n = getrandom(bytes + done, sizeof value - done, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw std::runtime_error("getrandom failed");
    done += static_cast<size_t>(n);
  }
  return value;
}

using text::Hex;

}  // namespace

std::optional<uint64_t> DevicesPage::Read(uint64_t offset, replay::Landmark at) {
  using R = DeviceRegister;
  switch (static_cast<R>(offset)) {
    case R::kConsoleReceive: {
      const uint64_t logged = p_.world.Input(at, replay::InputKind::kConsoleData, [this] {
        return EncodeConsoleInput(p_.console_in.Available() ? std::optional(p_.console_in.Take()) : std::nullopt);
      });
      return logged == 0 ? ~uint64_t{0} : (logged - 1) & 0xff;
    }
    case R::kClockNs: {
      const uint64_t ns = p_.world.Input(at, replay::InputKind::kClock, [this] { return p_.clock.NowNs(); });
      latest_clock_ns_ = std::max(latest_clock_ns_, ns);
      return ns;
    }
    case R::kEntropy:
      return p_.world.Input(at, replay::InputKind::kEntropy, [] { return HostEntropy(); });
    case R::kHarts:
      return p_.harts;
    case R::kDiskSectors:
      return p_.disk.sectors();
    case R::kDiskStatus:
      if (p_.hart != 0) return std::nullopt;  // hart 0's (the disk's completions reach it only)
      return static_cast<uint64_t>(p_.disk.status());
    default:
      return std::nullopt;
  }
}

bool DevicesPage::Write(uint64_t offset, uint64_t value, replay::Landmark) {
  using R = DeviceRegister;
  switch (static_cast<R>(offset)) {
    case R::kConsoleTransmit:
      if (p_.shared_device) p_.shared_device();
      p_.console_out.Put(static_cast<uint8_t>(value));
      return true;
    case R::kConsoleWrite: {
      const uint64_t address = value & ((uint64_t{1} << kConsoleWriteLengthShift) - 1);
      const uint64_t length = value >> kConsoleWriteLengthShift;
      if (length > kConsoleBufferMax)
        throw BadDeviceAccess("console write of " + std::to_string(length) + " bytes: at most " +
                              std::to_string(kConsoleBufferMax) + " per write");
      if (!p_.memory.Contains(address, length))
        throw BadDeviceAccess("console write of " + std::to_string(length) + " bytes from " + Hex(address) +
                              ", which is not all in guest RAM");
      // Bytes in guest memory are the guest's own state: they replay without being logged.
      if (p_.guest_access) p_.guest_access(address, length, false);
      if (p_.shared_device) p_.shared_device();
      const uint8_t* bytes = p_.memory.host() + address;
      for (uint64_t i = 0; i < length; ++i) p_.console_out.Put(bytes[i]);
      return true;
    }
    case R::kExit:
      if (!exit_code_) exit_code_ = static_cast<int32_t>(static_cast<uint32_t>(value));
      return true;
    case R::kTimerPeriodNs:
      p_.timer.SetPeriod(value, p_.clock.Now());
      return true;
    case R::kEndOfInterrupt:
      p_.interrupts.EndOfInterrupt(static_cast<uint8_t>(value));
      return true;
    case R::kRelax:
      hart_request_ = HartRequest::kRelax;
      return true;
    case R::kPark:
      hart_request_ = HartRequest::kPark;
      return true;
    case R::kDiskSector:
      if (p_.hart != 0) throw BadDeviceAccess("the disk belongs to hart 0; hart " + std::to_string(p_.hart) + " wrote its sector register");
      p_.disk.SetSector(value);
      return true;
    case R::kDiskAddress:
      if (p_.hart != 0) throw BadDeviceAccess("the disk belongs to hart 0; hart " + std::to_string(p_.hart) + " wrote its address register");
      p_.disk.SetAddress(value);
      return true;
    case R::kDiskCount:
      if (p_.hart != 0) throw BadDeviceAccess("the disk belongs to hart 0; hart " + std::to_string(p_.hart) + " wrote its count register");
      if (const std::optional<DiskRequest> request = p_.disk.Start(value)) {
        p_.start_disk_read(*request);
      } else if (p_.disk.status() == DiskStatus::kError) {
        p_.interrupts.Raise(kDiskVector, p_.clock.Now());  // refused: complete at once
      }
      return true;
    default:
      return false;
  }
}

}  // namespace rrkit::kvm
