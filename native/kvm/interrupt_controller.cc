#include "kvm/interrupt_controller.h"

#include <bit>
#include <stdexcept>
#include <string>

namespace rrkit::kvm {

void InterruptController::Raise(uint8_t vector, Clock::time_point due) {
  const uint32_t bit = Bit(vector);
  if (bit == 0) throw std::invalid_argument("interrupt vector " + std::to_string(vector) + " is not a device vector");
  if ((pending_ & bit) == 0) due_[vector - 0x20] = due;  // the first time it fell due counts
  pending_ |= bit;
}

std::optional<uint8_t> InterruptController::Deliverable() const {
  if (in_service_.has_value() || pending_ == 0) return std::nullopt;
  return static_cast<uint8_t>(0x20 + std::countr_zero(pending_));
}

InterruptController::Clock::time_point InterruptController::Deliver(uint8_t vector) {
  const uint32_t bit = Bit(vector);
  if (bit == 0) throw std::invalid_argument("interrupt vector " + std::to_string(vector) + " is not a device vector");
  const Clock::time_point due = (pending_ & bit) != 0 ? due_[vector - 0x20] : Clock::now();
  pending_ &= ~bit;
  in_service_ = vector;
  return due;
}

void InterruptController::EndOfInterrupt(uint8_t vector) {
  if (in_service_ == vector) in_service_.reset();
}

}  // namespace rrkit::kvm
