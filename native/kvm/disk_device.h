// The board's block device, as the guest sees it: registers for a read request (first
// sector, buffer address, sector count; writing the count starts it), a status register,
// and completion by DMA into guest memory followed by interrupt 0x21.
//
// This class is the register state and the request checks only. Where the bytes come from
// is the machine's business: a disk-image file read on a worker thread when running or
// recording (DiskReader), the log — or the replica's own copy of the image, with
// --disk-shared — when replaying. A request that cannot be served (outside the disk or
// RAM, too long, no disk) completes at once with the error status, which depends on guest
// state alone and so replays without being logged.
#pragma once

#include <cstdint>
#include <optional>

namespace rrkit::kvm {

inline constexpr uint64_t kSectorBytes = 512;
inline constexpr uint64_t kMaxRequestSectors = 256;  // 128 KiB per request

enum class DiskStatus : uint64_t {
  kIdle = 0,   // no request yet, or the last one completed
  kBusy = 1,   // a request is in flight
  kError = 2,  // the last request was refused; nothing was written
};

struct DiskRequest {
  uint64_t sector = 0;
  uint64_t address = 0;  // guest-physical
  uint64_t sectors = 0;
  uint64_t disk_offset() const { return sector * kSectorBytes; }
  uint64_t bytes() const { return sectors * kSectorBytes; }
};

class DiskDevice {
 public:
  // `sectors` 0: no disk. DMA may target guest-physical [dma_floor, ram_bytes).
  DiskDevice(uint64_t sectors, uint64_t dma_floor, uint64_t ram_bytes)
      : sectors_(sectors), dma_floor_(dma_floor), ram_bytes_(ram_bytes) {}

  uint64_t sectors() const { return sectors_; }
  DiskStatus status() const { return status_; }
  void SetSector(uint64_t sector) { next_.sector = sector; }
  void SetAddress(uint64_t address) { next_.address = address; }

  // The guest wrote the count. Returns the request to serve; nullopt when it was refused
  // (status() is then kError: the caller raises the completion interrupt at once) or
  // ignored because a request is already in flight (status() stays kBusy).
  std::optional<DiskRequest> Start(uint64_t sectors);
  // The request in flight, if any.
  const std::optional<DiskRequest>& in_flight() const { return in_flight_; }
  // Its bytes are in guest memory: status back to idle.
  void Complete();

 private:
  uint64_t sectors_;
  uint64_t dma_floor_;
  uint64_t ram_bytes_;
  DiskRequest next_;
  std::optional<DiskRequest> in_flight_;
  DiskStatus status_ = DiskStatus::kIdle;
};

}  // namespace rrkit::kvm
