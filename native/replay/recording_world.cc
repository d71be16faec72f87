#include "replay/recording_world.h"

namespace rrkit::replay {

uint64_t RecordingWorld::Input(Landmark at, InputKind kind, const std::function<uint64_t()>& live) {
  const uint64_t value = source_.Input(at, kind, live);
  log_.Append(InputRecord{at, kind, value});
  return value;
}

uint64_t RecordingWorld::RareOutcome(Landmark at, InputKind kind, uint64_t usual, const std::function<uint64_t()>& live) {
  const uint64_t value = source_.RareOutcome(at, kind, usual, live);
  if (value != usual) log_.Append(RareOutcomeRecord{at, kind, value});  // the usual case costs no bytes
  return value;
}

void RecordingWorld::InterruptTaken(Landmark at, uint64_t cause) {
  source_.InterruptTaken(at, cause);
  log_.Append(InterruptRecord{at, cause});
}

void RecordingWorld::DelayedInterruptTaken(Landmark at, uint64_t cause, uint64_t delay_ns) {
  source_.DelayedInterruptTaken(at, cause, delay_ns);
  log_.Append(DelayedInterruptRecord{at, cause, delay_ns});
}

void RecordingWorld::DmaDone(const DmaWrite& dma) {
  source_.DmaDone(dma);
  if (dma.from_shared_disk) log_.Append(DiskReadRecord{dma.at, dma.address, dma.disk_offset, dma.length});
  else log_.Append(DmaWriteRecord{dma.at, dma.address, dma.data});
}

void RecordingWorld::CheckpointTaken(const Checkpoint& checkpoint) {
  source_.CheckpointTaken(checkpoint);
  log_.Append(CheckpointRecord{checkpoint});
}

void RecordingWorld::MachineStopped(Landmark exit_at, int exit_code, const Checkpoint& final_state,
                                    const OutputDigest& output) {
  source_.MachineStopped(exit_at, exit_code, final_state, output);
  log_.Append(MachineStopRecord{exit_at, exit_code, final_state, output});
  log_.Close();
}

}  // namespace rrkit::replay
