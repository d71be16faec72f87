#include "emu/clint.h"

#include "emu/board.h"

namespace rrkit::emu {
namespace {

constexpr uint64_t kMsip = kClintMsipOffset;
constexpr uint64_t kMtimecmp = kClintMtimecmpOffset;
constexpr uint64_t kMtime = kClintMtimeOffset;

// A naturally aligned sub-word of a 64-bit register.
uint64_t Extract(uint64_t reg, uint64_t byte_offset, unsigned size) {
  const uint64_t shifted = reg >> (8 * byte_offset);
  return size == 8 ? shifted : shifted & ((uint64_t{1} << (8 * size)) - 1);
}

uint64_t Insert(uint64_t reg, uint64_t byte_offset, unsigned size, uint64_t value) {
  if (size == 8) return value;
  const uint64_t mask = ((uint64_t{1} << (8 * size)) - 1) << (8 * byte_offset);
  return (reg & ~mask) | ((value << (8 * byte_offset)) & mask);
}

}  // namespace

Clint::Clint(uint32_t harts, replay::World& world, BoardEvents& events, const MachineClock& clock)
    : harts_(harts), world_(world), events_(events), clock_(clock) {
  // Reset value: no timer interrupt until the guest sets a compare.
  for (auto& cmp : mtimecmp_) cmp.store(~uint64_t{0});
}

uint64_t Clint::Read(uint64_t offset, unsigned size, replay::Landmark at) {
  if (offset < kMsip + 4 * harts_) return msip_[offset / 4].load(std::memory_order_acquire) & 1;
  if (offset >= kMtimecmp && offset < kMtimecmp + 8 * harts_) {
    const uint64_t hart = (offset - kMtimecmp) / 8;
    return Extract(TimerCompare(static_cast<uint32_t>(hart)), offset & 7, size);
  }
  if (offset >= kMtime && offset < kMtime + 8) return Extract(ReadMtime(at), offset & 7, size);
  return 0;
}

uint64_t Clint::ReadMtime(replay::Landmark at) {
  const uint64_t now = world_.Input(at, replay::InputKind::kClock, [this] { return clock_.Ticks(); });
  if (at.vcpu < latest_mtime_.size()) latest_mtime_[at.vcpu].store(now, std::memory_order_relaxed);
  return now;
}

void Clint::Write(uint64_t offset, unsigned size, uint64_t value, replay::Landmark /*at*/) {
  if (offset < kMsip + 4 * harts_) {
    const uint32_t hart = static_cast<uint32_t>(offset / 4);
    msip_[hart].store(value & 1, std::memory_order_release);
    events_.SoftwareInterruptChanged(hart);
    return;
  }
  if (offset >= kMtimecmp && offset < kMtimecmp + 8 * harts_) {
    const uint32_t hart = static_cast<uint32_t>((offset - kMtimecmp) / 8);
    mtimecmp_[hart].store(Insert(TimerCompare(hart), offset & 7, size, value), std::memory_order_release);
    events_.TimerCompareChanged(hart);
  }
  // mtime follows host time; writes to it are ignored.
}

}  // namespace rrkit::emu
