#include "emu/uart.h"

namespace rrkit::emu {
namespace {

enum Register : uint64_t { kData = 0, kIer = 1, kIir = 2, kLcr = 3, kMcr = 4, kLsr = 5, kMsr = 6, kScr = 7 };

constexpr uint8_t kLsrDataReady = 0x01;
constexpr uint8_t kLsrTransmitEmpty = 0x60;  // THR empty and transmitter idle: always
constexpr uint8_t kIirNoInterrupt = 0xc1;    // FIFOs enabled, nothing pending

}  // namespace

uint64_t Uart::Read(uint64_t offset, unsigned /*size*/, replay::Landmark at) {
  switch (offset) {
    case kData:
      if (DivisorLatchAccess()) return dll_.load();
      return world_.Input(at, replay::InputKind::kConsoleData, [this] { return uint64_t{input_.Take()}; }) & 0xff;
    case kIer: return DivisorLatchAccess() ? dlm_.load() : ier_.load();
    case kIir: return kIirNoInterrupt;
    case kLcr: return lcr_.load();
    case kMcr: return mcr_.load();
    case kLsr:
      return world_.Input(at, replay::InputKind::kConsoleStatus, [this] {
               return uint64_t{kLsrTransmitEmpty} | (input_.Available() ? kLsrDataReady : 0);
             }) & 0xff;
    case kMsr: return 0;
    case kScr: return scr_.load();
  }
  return 0;
}

void Uart::Write(uint64_t offset, unsigned /*size*/, uint64_t value, replay::Landmark /*at*/) {
  const auto byte = static_cast<uint8_t>(value);
  switch (offset) {
    case kData:
      if (DivisorLatchAccess()) dll_.store(byte);
      else output_.Put(byte);
      return;
    case kIer:
      if (DivisorLatchAccess()) dlm_.store(byte);
      else ier_.store(byte & 0x0f);
      return;
    case kLcr: lcr_.store(byte); return;
    case kMcr: mcr_.store(byte); return;
    case kScr: scr_.store(byte); return;
  }
  // FCR (offset 2 on write), LSR and MSR writes: nothing to do for a polled UART.
}

}  // namespace rrkit::emu
