// What the VMM does at a VM exit, as a pure function (Firecracker's handle_kvm_exit): an
// exit record in, an action out. DecodeExit() turns kvm_run into the record; HandleExit()
// decides, touching nothing but the devices page it is given — so tests feed it made-up
// exits and a fake bus, with no /dev/kvm.
#pragma once

#include <linux/kvm.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "kvm/devices_page.h"
#include "replay/world.h"

namespace rrkit::kvm {

struct VmExit {
  enum class Kind {
    kMmio,           // a load or store KVM could not satisfy from RAM
    kIo,             // IN/OUT
    kHalt,           // HLT
    kShutdown,       // triple fault
    kFailEntry,      // the CPU refused to enter the guest
    kInternalError,  // KVM could not emulate an instruction or deliver an event
    kSystemEvent,    // shutdown/reset/crash requested through KVM
    kOther,          // anything else (debug, hypercall, ...)
  };
  Kind kind = Kind::kOther;
  uint32_t reason = 0;  // KVM_EXIT_*
  // kMmio
  uint64_t address = 0;
  uint32_t length = 0;
  bool is_write = false;
  uint64_t data = 0;  // the stored value (writes)
  // kIo
  uint16_t port = 0;
  // kInternalError: suberror; kFailEntry: hardware reason; kSystemEvent: type
  uint64_t detail = 0;
  // kInternalError, emulation failure: the instruction's bytes when KVM reports them
  std::vector<uint8_t> instruction;
};

VmExit DecodeExit(const kvm_run& run);

struct ExitAction {
  enum class Kind {
    kResume,  // KVM_RUN again (after writing `mmio_value` into kvm_run's mmio data, if set)
    kHalt,    // the guest halted: resume when an interrupt can wake it
    kStop,    // the guest wrote the exit register: `exit_code`
    kFault,   // the guest cannot go on: `fault` says why (the caller adds the registers)
    kRelax,   // the spin-wait hint: resume (SMP recording: after sleeping until a page is taken)
    kPark,    // this hart is done: it stops for good
  };
  Kind kind = Kind::kResume;
  std::optional<uint64_t> mmio_value;
  int exit_code = 0;
  std::string fault;
};

// `at` is the landmark of this exit (for the World's records).
ExitAction HandleExit(const VmExit& exit, DeviceBus& bus, replay::Landmark at);

// "KVM_EXIT_MMIO" etc., or "exit reason N".
std::string ExitReasonName(uint32_t reason);

}  // namespace rrkit::kvm
