#include "kvm/exit_dispatch.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "kvm/board.h"
#include "text/hex.h"

namespace rrkit::kvm {
namespace {

using text::Hex;

ExitAction Fault(std::string why) {
  ExitAction action;
  action.kind = ExitAction::Kind::kFault;
  action.fault = std::move(why);
  return action;
}

const char* InternalErrorName(uint64_t suberror) {
  switch (suberror) {
    case KVM_INTERNAL_ERROR_EMULATION: return "KVM could not emulate an instruction (emulation failure)";
    case KVM_INTERNAL_ERROR_SIMUL_EX: return "an exception occurred while delivering another (double fault in KVM)";
    case KVM_INTERNAL_ERROR_DELIVERY_EV: return "KVM could not deliver an event";
    case KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON: return "the CPU exited for a reason KVM does not handle";
  }
  return "KVM internal error";
}

ExitAction HandleMmio(const VmExit& exit, DeviceBus& bus, replay::Landmark at) {
  const uint64_t offset = exit.address - kDevicesBase;
  if (offset >= kDevicesSize) {
    return Fault(std::string(exit.is_write ? "write to " : "read from ") + Hex(exit.address) +
                 ", which is neither guest RAM nor the devices page");
  }
  if (exit.length != 8 || offset % 8 != 0) {
    return Fault(std::to_string(exit.length) + "-byte access at devices-page offset " + Hex(offset) +
                 ": its registers take aligned 64-bit accesses only");
  }
  ExitAction action;
  if (exit.is_write) {
    try {
      if (!bus.Write(offset, exit.data, at)) return Fault("write to devices-page offset " + Hex(offset) + ", which is no writable register");
    } catch (const BadDeviceAccess& e) {
      return Fault(e.what());
    }
    if (const std::optional<int> code = bus.exit_code()) {
      action.kind = ExitAction::Kind::kStop;
      action.exit_code = *code;
      return action;
    }
    switch (bus.TakeHartRequest()) {
      case DeviceBus::HartRequest::kRelax: action.kind = ExitAction::Kind::kRelax; break;
      case DeviceBus::HartRequest::kPark: action.kind = ExitAction::Kind::kPark; break;
      case DeviceBus::HartRequest::kNone: break;
    }
    return action;
  }
  action.mmio_value = bus.Read(offset, at);
  if (!action.mmio_value) return Fault("read from devices-page offset " + Hex(offset) + ", which is no readable register");
  return action;
}

}  // namespace

VmExit DecodeExit(const kvm_run& run) {
  VmExit exit;
  exit.reason = run.exit_reason;
  switch (run.exit_reason) {
    case KVM_EXIT_MMIO:
      exit.kind = VmExit::Kind::kMmio;
      exit.address = run.mmio.phys_addr;
      exit.length = run.mmio.len;
      exit.is_write = run.mmio.is_write != 0;
      if (exit.is_write && run.mmio.len <= sizeof exit.data) std::memcpy(&exit.data, run.mmio.data, run.mmio.len);
      break;
    case KVM_EXIT_IO:
      exit.kind = VmExit::Kind::kIo;
      exit.port = run.io.port;
      exit.is_write = run.io.direction == KVM_EXIT_IO_OUT;
      exit.length = run.io.size;
      break;
    case KVM_EXIT_HLT: exit.kind = VmExit::Kind::kHalt; break;
    case KVM_EXIT_SHUTDOWN: exit.kind = VmExit::Kind::kShutdown; break;
    case KVM_EXIT_FAIL_ENTRY:
      exit.kind = VmExit::Kind::kFailEntry;
      exit.detail = run.fail_entry.hardware_entry_failure_reason;
      break;
    case KVM_EXIT_INTERNAL_ERROR:
      exit.kind = VmExit::Kind::kInternalError;
      exit.detail = run.internal.suberror;
      if (run.internal.suberror == KVM_INTERNAL_ERROR_EMULATION &&
          (run.emulation_failure.flags & KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES) != 0) {
        const size_t size = std::min<size_t>(run.emulation_failure.insn_size, sizeof run.emulation_failure.insn_bytes);
        exit.instruction.assign(run.emulation_failure.insn_bytes, run.emulation_failure.insn_bytes + size);
      }
      break;
    case KVM_EXIT_SYSTEM_EVENT:
      exit.kind = VmExit::Kind::kSystemEvent;
      exit.detail = run.system_event.type;
      break;
    default: exit.kind = VmExit::Kind::kOther; break;
  }
  return exit;
}

ExitAction HandleExit(const VmExit& exit, DeviceBus& bus, replay::Landmark at) {
  switch (exit.kind) {
    case VmExit::Kind::kMmio: return HandleMmio(exit, bus, at);
    case VmExit::Kind::kIo:
      return Fault(std::string("port I/O (") + (exit.is_write ? "out to" : "in from") + " port " + Hex(exit.port) +
                   "): the board has no I/O ports, its devices are MMIO at " + Hex(kDevicesBase));
    case VmExit::Kind::kHalt: {
      ExitAction action;
      action.kind = ExitAction::Kind::kHalt;
      return action;
    }
    case VmExit::Kind::kShutdown: return Fault("triple fault: the guest shut down (an exception it could not handle)");
    case VmExit::Kind::kFailEntry: return Fault("KVM could not enter the guest (hardware entry failure reason " + Hex(exit.detail) + ")");
    case VmExit::Kind::kInternalError: {
      std::string bytes;
      for (const uint8_t b : exit.instruction) {
        char hex[4];
        std::snprintf(hex, sizeof hex, " %02x", b);
        bytes += hex;
      }
      return Fault(std::string(InternalErrorName(exit.detail)) + " (suberror " + std::to_string(exit.detail) + ")" +
                   (bytes.empty() ? "" : ", instruction bytes" + bytes));
    }
    case VmExit::Kind::kSystemEvent: return Fault("the guest asked KVM for a system event (type " + std::to_string(exit.detail) + ")");
    case VmExit::Kind::kOther: break;
  }
  return Fault("unhandled VM exit: " + ExitReasonName(exit.reason));
}

std::string ExitReasonName(uint32_t reason) {
  switch (reason) {
    case KVM_EXIT_UNKNOWN: return "KVM_EXIT_UNKNOWN";
    case KVM_EXIT_EXCEPTION: return "KVM_EXIT_EXCEPTION";
    case KVM_EXIT_IO: return "KVM_EXIT_IO";
    case KVM_EXIT_HYPERCALL: return "KVM_EXIT_HYPERCALL";
    case KVM_EXIT_DEBUG: return "KVM_EXIT_DEBUG";
    case KVM_EXIT_HLT: return "KVM_EXIT_HLT";
    case KVM_EXIT_MMIO: return "KVM_EXIT_MMIO";
    case KVM_EXIT_IRQ_WINDOW_OPEN: return "KVM_EXIT_IRQ_WINDOW_OPEN";
    case KVM_EXIT_SHUTDOWN: return "KVM_EXIT_SHUTDOWN";
    case KVM_EXIT_FAIL_ENTRY: return "KVM_EXIT_FAIL_ENTRY";
    case KVM_EXIT_INTR: return "KVM_EXIT_INTR";
    case KVM_EXIT_NMI: return "KVM_EXIT_NMI";
    case KVM_EXIT_INTERNAL_ERROR: return "KVM_EXIT_INTERNAL_ERROR";
    case KVM_EXIT_SYSTEM_EVENT: return "KVM_EXIT_SYSTEM_EVENT";
    case KVM_EXIT_X86_RDMSR: return "KVM_EXIT_X86_RDMSR";
    case KVM_EXIT_X86_WRMSR: return "KVM_EXIT_X86_WRMSR";
    case KVM_EXIT_X86_BUS_LOCK: return "KVM_EXIT_X86_BUS_LOCK";
    case KVM_EXIT_NOTIFY: return "KVM_EXIT_NOTIFY";
  }
  return "exit reason " + std::to_string(reason);
}

}  // namespace rrkit::kvm
