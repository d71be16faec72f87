#include "kvm/disk_device.h"

namespace rrkit::kvm {

std::optional<DiskRequest> DiskDevice::Start(uint64_t sectors) {
  if (in_flight_.has_value()) return std::nullopt;
  DiskRequest request = next_;
  request.sectors = sectors;
  const bool fits_disk = request.sector < sectors_ && sectors <= sectors_ - request.sector;
  const bool fits_ram = request.address >= dma_floor_ && request.address < ram_bytes_ &&
                        request.bytes() <= ram_bytes_ - request.address;
  if (sectors == 0 || sectors > kMaxRequestSectors || !fits_disk || !fits_ram) {
    status_ = DiskStatus::kError;
    return std::nullopt;
  }
  in_flight_ = request;
  status_ = DiskStatus::kBusy;
  return request;
}

void DiskDevice::Complete() {
  in_flight_.reset();
  status_ = DiskStatus::kIdle;
}

}  // namespace rrkit::kvm
