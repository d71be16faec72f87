// Guest RAM: one shared mapping that every hart thread reads and writes directly.
//
// RAM is a memfd mapped shared, so that it can later be mapped into another process (a
// replica, a snapshot writer) without copying. Beside it lives what the executor needs to
// keep decoded code and LR/SC reservations honest: a per-page "holds decoded code" mark,
// and reservation versions that stores bump while any reservation is held.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "emu/memory_map.h"

namespace rrkit::emu {

inline constexpr int kPageShift = 12;

class GuestRam {
 public:
  explicit GuestRam(uint64_t size_bytes);
  ~GuestRam();
  GuestRam(const GuestRam&) = delete;
  GuestRam& operator=(const GuestRam&) = delete;

  uint64_t base() const { return kRamBase; }
  uint64_t size() const { return size_; }
  uint8_t* host() const { return host_; }
  int fd() const { return fd_; }

  // Offset of [addr, addr+len) in RAM, or false when any byte lies outside.
  bool Contains(uint64_t addr, uint64_t len) const {
    const uint64_t off = addr - kRamBase;
    return off < size_ && len <= size_ - off;
  }

  // Copies guest bytes in (for the loader) with bounds already checked by the caller.
  void Write(uint64_t addr, std::span<const uint8_t> bytes);

  // --- decoded code tracking -----------------------------------------------------------
  // A 256-byte line is marked when a block is decoded from it; a store to a marked line
  // makes every hart drop its decoded blocks. Lines rather than pages, because small
  // guests keep data in the same page as code.
  static constexpr int kCodeLineShift = 8;
  void MarkCode(uint64_t offset, uint64_t len);
  bool IsCode(uint64_t offset) const {
    return code_lines_[offset >> kCodeLineShift].load(std::memory_order_relaxed) != 0;
  }
  void ClearCodeMarks();

  // --- LR/SC reservations ----------------------------------------------------------------
  // While any hart holds a reservation, stores bump the version of the slot their address
  // hashes to; an SC succeeds only if its slot's version is the one its LR saw (and the
  // value is unchanged, checked by compare-and-swap).
  std::atomic<uint32_t>& reservations_held() { return reservations_held_; }
  std::atomic<uint64_t>& ReservationVersion(uint64_t offset) {
    return reservation_versions_[(offset >> 3) & (kReservationSlots - 1)];
  }
  void NoteStore(uint64_t offset) {
    if (reservations_held_.load(std::memory_order_relaxed) != 0)
      ReservationVersion(offset).fetch_add(1, std::memory_order_acq_rel);
  }

 private:
  static constexpr size_t kReservationSlots = 4096;

  uint64_t size_;
  int fd_ = -1;
  uint8_t* host_ = nullptr;
  std::unique_ptr<std::atomic<uint8_t>[]> code_lines_;
  // Read by every store of every hart, written only by LR/SC: alone on its cache line.
  alignas(64) std::atomic<uint32_t> reservations_held_{0};
  std::unique_ptr<std::atomic<uint64_t>[]> reservation_versions_;
};

// Guest loads and stores are relaxed atomics: plain moves on the host, but defined
// behaviour when harts race (which guests do on purpose).
template <typename T>
inline T LoadRelaxed(const uint8_t* p) {
  return __atomic_load_n(reinterpret_cast<const T*>(p), __ATOMIC_RELAXED);
}
template <typename T>
inline void StoreRelaxed(uint8_t* p, T value) {
  __atomic_store_n(reinterpret_cast<T*>(p), value, __ATOMIC_RELAXED);
}

}  // namespace rrkit::emu
