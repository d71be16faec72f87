// How a run ended and the state it ended in: what every engine's run returns (the addon
// turns it into src/native.ts's NativeRunResult, native/addon/run_result_js.cc).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "replay/divergence.h"
#include "replay/landmark.h"

namespace rrkit::machine {

enum class Outcome {
  kExited,         // the guest asked to stop (emu: the test finisher)
  kReachedCounts,  // every vCPU reached its stop landmark (stop_at, or replay's final landmarks)
  kFault,          // a guest error the guest did not handle; `error` says which
  kTimeout,        // the run's timeout passed
  kHostError,      // rrkit failed
  kDiverged,       // replay: the guest did not follow the log; `divergence` says where
  kInterrupted,    // stopped from outside (SIGINT, SIGTERM: machine/run_interrupts.h)
  kLogDamaged,     // replay: the log is damaged where the replay reached it; `error` says where
};

// The name TypeScript sees ("exited", "reached-counts", ...).
const char* OutcomeName(Outcome outcome);

struct VcpuFinal {
  uint64_t landmark = 0;  // emu: retired instructions; kvm: synchronous exits
  uint64_t pc = 0;
  uint64_t register_hash = 0;
};

struct RunResult {
  Outcome outcome = Outcome::kExited;
  int exit_code = 0;
  replay::Landmark exit_at;
  std::string error;
  std::optional<replay::Divergence> divergence;  // kDiverged only
  std::vector<VcpuFinal> vcpus;
  uint64_t memory_hash = 0;
  uint64_t state_hash = 0;  // every vCPU's registers and all memory
  double wall_seconds = 0;
  // Asynchronous interrupts the vCPUs took.
  uint64_t interrupts_taken = 0;
  std::string console;  // captured console output, when the run captured it
};

}  // namespace rrkit::machine
