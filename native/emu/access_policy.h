// The executor's per-run policy: what it checks before each guest data access and what it
// does at each block boundary it chains across. ExecuteBlocks is a template on it, so a
// plain run (NoAccessCheck) pays nothing for SMP record or replay.
//
//   NoAccessCheck    plain runs, uniprocessor record and replay
//   CrewAccessCheck  SMP record: every RAM access (and every access to an ordered device)
//                    is checked against the hart's CREW permission table
//   GatePublish      SMP replay: no checks; the hart publishes its count at every block
//                    boundary, so that harts waiting at their gates for it see it soon
#pragma once

#include <cstdint>

#include "crew/permission_table.h"
#include "crew/replay_gate.h"
#include "emu/clint.h"
#include "emu/memory_map.h"

namespace rrkit::emu {

// Where an access the policy refused must be acquired (filled in by the policy, read by
// the run loop when the executor returns BlockExit::kOwnershipFault).
struct OwnershipFault {
  uint64_t page = 0;
  bool write = false;
};

struct NoAccessCheck {
  bool MayRead(uint64_t /*ram_offset*/) const { return true; }
  bool MayWrite(uint64_t /*ram_offset*/) const { return true; }
  bool Refuses(uint64_t /*addr*/, unsigned /*size*/, bool /*write*/) const { return false; }
  void AtBlockBoundary(uint64_t /*count*/) const {}
};

// Device registers whose accesses from several harts must happen in the recorded order:
// the whole UART (its transmit order is the console output) and every CLINT register
// below mtime — msip and mtimecmp, through which one hart signals or reads another's, and
// the unused offsets between them. mtime reads are logged inputs already, and the system
// device and test finisher are not ordered. The ordered registers together are one more
// CREW page, the device page, and every access to it counts as a write, so that they are
// ordered exactly like writes to memory.
inline bool IsOrderedDevice(uint64_t addr) {
  if (addr - kUartBase < kUartSize) return true;
  return addr - kClintBase < kClintMtimeOffset;
}

class CrewAccessCheck {
 public:

  CrewAccessCheck(const crew::PermissionTable& table, unsigned page_shift, uint64_t ram_size, uint64_t device_page,
                  OwnershipFault& fault)
      : table_(&table), shift_(page_shift), ram_size_(ram_size), device_page_(device_page), fault_(&fault) {}

  bool MayRead(uint64_t ram_offset) const { return table_->Allows(ram_offset >> shift_, false); }
  bool MayWrite(uint64_t ram_offset) const { return table_->Allows(ram_offset >> shift_, true); }

  // The slow path: true (and the fault filled in) when the access at `addr` needs rights
  // this hart lacks. Misaligned and unmapped accesses are not refused: they trap without
  // touching anything.
  bool Refuses(uint64_t addr, unsigned size, bool write) const {
    if ((addr & (size - 1)) != 0) return false;
    const uint64_t off = addr - kRamBase;
    if (off < ram_size_) {
      if (table_->Allows(off >> shift_, write)) return false;
      *fault_ = {off >> shift_, write};
      return true;
    }
    if (!IsOrderedDevice(addr) || table_->Allows(device_page_, true)) return false;
    *fault_ = {device_page_, true};
    return true;
  }

  void AtBlockBoundary(uint64_t /*count*/) const {}

 private:
  const crew::PermissionTable* table_;
  unsigned shift_;
  uint64_t ram_size_;
  uint64_t device_page_;
  OwnershipFault* fault_;
};

class GatePublish {
 public:

  GatePublish(crew::ReplayGate& gate, uint32_t hart) : gate_(&gate), hart_(hart) {}

  bool MayRead(uint64_t /*ram_offset*/) const { return true; }
  bool MayWrite(uint64_t /*ram_offset*/) const { return true; }
  bool Refuses(uint64_t /*addr*/, unsigned /*size*/, bool /*write*/) const { return false; }
  void AtBlockBoundary(uint64_t count) const { gate_->Publish(hart_, count); }

 private:
  crew::ReplayGate* gate_;
  uint32_t hart_;
};

}  // namespace rrkit::emu
