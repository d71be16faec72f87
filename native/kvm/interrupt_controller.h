// The board's interrupt controller, in the VMM: the kvm engine runs without an in-kernel
// irqchip so that rrkit decides, and logs, the exit at which each interrupt is delivered.
//
// Devices raise vectors; at an exit where the guest can take one, the VMM takes the
// lowest pending vector and injects it. One vector is in service at a time, until the
// guest's handler writes the end-of-interrupt register: KVM keeps a single injected
// interrupt per vCPU, and a handler that runs with IF clear cannot take another anyway.
// A vector raised again while pending is delivered once (a periodic timer drops ticks
// rather than queueing them, as on the rv64 board).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

namespace rrkit::kvm {

class InterruptController {
 public:
  using Clock = std::chrono::steady_clock;

  // A device wants `vector` delivered; `due` is when it fell due (for the delay report).
  // Vectors 0x20..0x3f.
  void Raise(uint8_t vector, Clock::time_point due);

  // The vector to inject now, if any (the lowest pending one, none while one is in service).
  std::optional<uint8_t> Deliverable() const;
  // `vector` is being injected: it leaves pending and goes in service. Returns when it
  // fell due (now, in replay, where the controller learns of interrupts from the log).
  Clock::time_point Deliver(uint8_t vector);

  // The guest's handler for `vector` finished. An EOI for a vector not in service is ignored.
  void EndOfInterrupt(uint8_t vector);

  std::optional<uint8_t> in_service() const { return in_service_; }
  bool pending(uint8_t vector) const { return Bit(vector) != 0 && (pending_ & Bit(vector)) != 0; }

 private:
  static uint32_t Bit(uint8_t vector) { return vector >= 0x20 && vector < 0x40 ? uint32_t{1} << (vector - 0x20) : 0; }

  uint32_t pending_ = 0;  // bit v - 0x20
  Clock::time_point due_[32]{};
  std::optional<uint8_t> in_service_;
};

}  // namespace rrkit::kvm
