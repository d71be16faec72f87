#include "emu/board.h"

#include <stdexcept>
#include <string>
#include <utility>

namespace rrkit::emu {
namespace {

uint32_t CheckedHarts(uint32_t harts) {
  if (harts < 1 || harts > kMaxHarts)
    throw std::invalid_argument("the emu machine has 1 to " + std::to_string(kMaxHarts) + " harts, not " +
                                std::to_string(harts));
  return harts;
}

}  // namespace

Board::Board(uint32_t harts, replay::World& world, BoardEvents& events, machine::ConsoleOutput::Mode console,
             machine::ConsoleInput input)
    : console_out_(console),
      console_in_(std::move(input)),
      clint_(CheckedHarts(harts), world, events, clock_),
      uart_(world, console_out_, console_in_),
      system_device_(harts, world),
      finisher_(events) {
  bus_.Map(kClintBase, kClintSize, clint_);
  bus_.Map(kUartBase, kUartSize, uart_);
  bus_.Map(kSystemDeviceBase, kSystemDeviceSize, system_device_);
  bus_.Map(kTestFinisherBase, kTestFinisherSize, finisher_);
}

}  // namespace rrkit::emu
