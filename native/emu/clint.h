// The core-local interruptor (SiFive CLINT layout, as on QEMU virt): per-hart software
// interrupt (msip) and timer compare (mtimecmp) registers, and mtime, a 10 MHz count of
// host time since the machine started. mtime reads are world inputs (kClock).
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>

#include "emu/memory_map.h"
#include "machine/device.h"
#include "replay/world.h"

namespace rrkit::emu {

// Register offsets from the CLINT's base.
inline constexpr uint64_t kClintMsipOffset = 0x0000;      // 4 bytes per hart
inline constexpr uint64_t kClintMtimecmpOffset = 0x4000;  // 8 bytes per hart
inline constexpr uint64_t kClintMtimeOffset = 0xbff8;

class BoardEvents;

// Host time in CLINT ticks (100 ns) since the machine was created, or since the tick a
// replay went live at (ContinueFrom).
class MachineClock {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr uint64_t kNanosPerTick = 100;

  uint64_t Ticks() const {
    return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start()).count()) /
           kNanosPerTick;
  }
  Clock::time_point TimeOfTicks(uint64_t ticks) const {
    // Saturate far-future compares (mtimecmp = ~0 means "never").
    if (ticks > (uint64_t{1} << 52)) return Clock::time_point::max();
    return start() + std::chrono::nanoseconds(ticks * kNanosPerTick);
  }
  // Going live after a replay: the guest saw the recording's clock up to `ticks`, so host
  // time goes on from there (never backwards), whenever the replay ran.
  void ContinueFrom(uint64_t ticks) {
    const Clock::time_point now = Clock::now();
    const auto since = std::chrono::nanoseconds(ticks * kNanosPerTick);
    if (now - start() < since) start_ns_.store((now - since).time_since_epoch().count(), std::memory_order_release);
  }

 private:
  Clock::time_point start() const {
    return Clock::time_point(Clock::duration(start_ns_.load(std::memory_order_acquire)));
  }

  std::atomic<Clock::rep> start_ns_{Clock::now().time_since_epoch().count()};
};

class Clint final : public machine::Device {
 public:
  Clint(uint32_t harts, replay::World& world, BoardEvents& events, const MachineClock& clock);

  uint64_t Read(uint64_t offset, unsigned size, replay::Landmark at) override;
  void Write(uint64_t offset, unsigned size, uint64_t value, replay::Landmark at) override;

  // mtime, a world input (what the `time` CSR reads too).
  uint64_t ReadMtime(replay::Landmark at);
  // The latest mtime any hart has read (replay then live: where the live clock goes on).
  uint64_t LatestMtime() const {
    uint64_t latest = 0;
    for (const auto& read : latest_mtime_) latest = std::max(latest, read.load(std::memory_order_relaxed));
    return latest;
  }

  bool SoftwarePending(uint32_t hart) const { return msip_[hart].load(std::memory_order_acquire) != 0; }
  uint64_t TimerCompare(uint32_t hart) const { return mtimecmp_[hart].load(std::memory_order_acquire); }
  // Live MTIP: host time has reached this hart's mtimecmp.
  bool TimerPending(uint32_t hart) const { return clock_.Ticks() >= TimerCompare(hart); }

  // A state image (emu/state_image.h): one hart's registers and the last mtime it read.
  struct HartRegisters {
    uint32_t msip = 0;
    uint64_t mtimecmp = ~uint64_t{0};
    uint64_t latest_mtime = 0;
  };
  HartRegisters Save(uint32_t hart) const {
    return {msip_[hart].load(std::memory_order_acquire), TimerCompare(hart),
            latest_mtime_[hart].load(std::memory_order_relaxed)};
  }
  // Before the machine runs (nothing is raised: the harts look at their interrupts as they start).
  void Restore(uint32_t hart, const HartRegisters& r) {
    msip_[hart].store(r.msip & 1, std::memory_order_release);
    mtimecmp_[hart].store(r.mtimecmp, std::memory_order_release);
    latest_mtime_[hart].store(r.latest_mtime, std::memory_order_relaxed);
  }

 private:
  uint32_t harts_;
  replay::World& world_;
  BoardEvents& events_;
  const MachineClock& clock_;
  std::array<std::atomic<uint32_t>, kMaxHarts> msip_{};
  std::array<std::atomic<uint64_t>, kMaxHarts> mtimecmp_{};
  std::array<std::atomic<uint64_t>, kMaxHarts> latest_mtime_{};  // each hart's last mtime read
};

}  // namespace rrkit::emu
