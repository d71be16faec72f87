// Sleeping on a hart's attention word, with an optional timeout: the Linux futex calls
// directly, because std::atomic::wait has no timeout and its notify may skip the wake-up
// of a waiter it did not register itself. Every wait and wake on an attention word goes
// through here.
#pragma once

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <ctime>

namespace rrkit::emu {

static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t), "a futex is a plain 32-bit word");

// Sleeps while `word` holds `expected`, at most `timeout` (negative: no limit). Returns at
// once if it holds something else; may return spuriously, so callers re-check.
inline void FutexWait(std::atomic<uint32_t>& word, uint32_t expected,
                      std::chrono::nanoseconds timeout = std::chrono::nanoseconds(-1)) {
  timespec limit{};
  const timespec* limit_ptr = nullptr;
  if (timeout.count() >= 0) {
    limit.tv_sec = static_cast<time_t>(timeout.count() / 1'000'000'000);
    limit.tv_nsec = static_cast<long>(timeout.count() % 1'000'000'000);
    limit_ptr = &limit;
  }
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word), FUTEX_WAIT_PRIVATE, expected, limit_ptr, nullptr, 0);
}

inline void FutexWakeAll(std::atomic<uint32_t>& word) {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word), FUTEX_WAKE_PRIVATE, INT32_MAX, nullptr, nullptr, 0);
}

}  // namespace rrkit::emu
