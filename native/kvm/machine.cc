#include "kvm/machine.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <thread>

#include "emu/state_hash.h"
#include "kvm/board.h"
#include "kvm/exit_dispatch.h"
#include "kvm/long_mode.h"
#include "kvm/registers.h"
#include "kvm/thread_kick.h"
#include "replay/divergence.h"
#include "replay/log_error.h"

namespace rrkit::kvm {
namespace {

// Unwinds the run loop once stop_ is set.
struct Stopped {};

std::string DivergenceMessage(const replay::Divergence& d) { return replay::DescribeDivergence(d, "exit"); }

}  // namespace

Machine::Machine(const KvmSystem& system, const MachineOptions& options, replay::World& world, machine::ConsoleInput input,
                 const ElfImage& image, const DiskImage* disk)
    : options_(options),
      world_(world),
      live_(world.DeliversLiveInterrupts()),
      memory_file_(std::make_shared<MemoryFile>(options.ram_bytes)),
      memory_(memory_file_),
      vm_(system, memory_),
      vcpu_(vm_, 0),
      console_out_(options.console),
      console_in_(std::move(input)),
      disk_(disk != nullptr ? disk->sectors() : options.disk_sectors, kImageBase, options.ram_bytes),
      disk_image_(disk),
      devices_(DevicesPage::Parts{world, clock_, memory_, console_out_, console_in_, timer_, interrupts_, disk_,
                                  [this](const DiskRequest& request) { StartDiskRead(request); }}) {
  // All the guest can touch is the image (stacks and .bss included): back it with host
  // pages before it runs.
  memory_.Populate(image.image_end);
  WriteLongModeTables(memory_, image.boot_stack_top);
  for (const ElfImage::Segment& segment : image.segments) memory_.Write(segment.address, segment.bytes);
  if (disk_image_ != nullptr && live_) disk_reader_ = std::make_unique<DiskReader>(*disk_image_);

  vcpu_.SetCpuid(GuestCpuid(system.SupportedCpuid()));
  vcpu_.SetSregs(LongModeSregs(kvm_sregs{}));
  kvm_regs regs{};
  regs.rip = image.entry;
  regs.rsp = image.boot_stack_top;
  regs.rdi = 0;  // hart id
  regs.rflags = 0x2;
  vcpu_.SetRegs(regs);

  if (options_.track_memory) memory_hash_ = std::make_unique<MemoryHash>(memory_);
  // No ticker (a kick would cost an exit): the vCPU thread samples at its entries and exits.
  if (options_.host_time_sink) host_time_ = std::make_unique<machine::HostTimeSamples>(options_.host_time_sink, options_.host_time_period, nullptr);
  if (live_) {
    next_checkpoint_ = options_.checkpoint_interval;
  }
}

// Replay reads the log as the run reaches it (replay/world.h, Horizon): everything logged
// below the horizon has been read, so what comes next is known until the run gets there.
void Machine::RefreshFromLog(replay::Landmark at) {
  if (world_.Horizon(0) > at.count) return;
  world_.Advance(0, at.count);
  next_interrupt_ = world_.ScheduledInterrupt(0);
  if (const auto checkpoint = world_.ScheduledCheckpoint()) next_checkpoint_ = checkpoint->vcpus.at(0).at.count;
  if (const auto finals = world_.FinalLandmarks()) final_exits_ = finals->at(0);
}

Machine::~Machine() = default;

RunResult Machine::Run() {
  const auto started = std::chrono::steady_clock::now();
  std::thread vcpu_thread([this] { Loop(); });
  std::thread watchdog;
  if (options_.timeout.count() > 0) watchdog = std::thread([this] { Timeout(); });
  vcpu_thread.join();
  {
    std::lock_guard lock(watchdog_mutex_);
    finished_ = true;
  }
  watchdog_cv_.notify_all();
  if (watchdog.joinable()) watchdog.join();
  console_out_.Flush();

  RunResult result = std::move(result_);
  result.run.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (options_.console == machine::ConsoleOutput::Mode::kCapture) result.run.console = console_out_.Captured();
  return result;
}

void Machine::Timeout() {
  std::unique_lock lock(watchdog_mutex_);
  if (watchdog_cv_.wait_for(lock, options_.timeout, [this] { return finished_; })) return;
  timed_out_.store(true);
  vcpu_.Kick();
}

void Machine::Loop() {
  UnblockKickOnThisThread();
  vcpu_.BindToCallingThread();
  const auto started = std::chrono::steady_clock::now();
  auto guest_time = [&] { result_.guest_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(); };
  try {
    if (host_time_) host_time_->Start();
    guest_entries_.emplace(host_time_.get(), Here());
    RunLoop();
    guest_time();
  } catch (const Stopped&) {
    guest_time();
  } catch (const replay::Divergence& d) {
    stop_ = Stop{machine::Outcome::kDiverged, DivergenceMessage(d), d};
  } catch (const replay::LogError& e) {
    stop_ = Stop{machine::Outcome::kLogDamaged, e.what(), std::nullopt};
  } catch (const std::exception& e) {
    stop_ = Stop{machine::Outcome::kHostError, e.what(), std::nullopt};
  }
  vcpu_.UnbindThread();

  machine::RunResult& run = result_.run;
  run.outcome = stop_ ? stop_->outcome : machine::Outcome::kExited;
  if (stop_) {
    run.error = stop_->error;
    run.divergence = stop_->divergence;
  }
  machine::VcpuFinal vcpu{exits_, 0, 0};
  try {
    const kvm_regs& regs = vcpu_.Regs();
    vcpu.pc = regs.rip;
    vcpu.register_hash = RegisterHash(regs, vcpu_.Sregs());
    run.memory_hash = CurrentMemoryHash(true);
  } catch (const std::exception& e) {
    if (run.error.empty()) run.error = e.what();
  }
  run.vcpus = {vcpu};
  emu::StateHasher state;
  state.Add(vcpu.register_hash);
  state.Add(run.memory_hash);
  run.state_hash = state.Finish();
}

void Machine::RunLoop() {
  for (;;) {
    guest_entries_->Entering(Here());
    if (!vcpu_.Run()) {
      vcpu_.ClearKick();
      if (timed_out_.load()) {
        char seconds[32];
        std::snprintf(seconds, sizeof seconds, "%g", static_cast<double>(options_.timeout.count()) / 1000.0);
        Fault(std::string("the guest did not stop within the timeout of ") + seconds + " s (it was at exit " +
              std::to_string(exits_) + ")");
      }
      continue;
    }
    const VmExit exit = DecodeExit(vcpu_.run());
    ++exits_;
    exits_published_.store(exits_, std::memory_order_relaxed);
    const replay::Landmark at = Here();
    if (!live_) RefreshFromLog(at);
    if (final_exits_.has_value() && exits_ > *final_exits_) {
      throw replay::Divergence{at, "exit count", "the recording stopped at exit " + std::to_string(*final_exits_),
                               "the guest went on (" + ExitReasonName(exit.reason) + ")"};
    }

    guest_entries_->Exited(at);
    TakeCheckpointIfDue(at);
    CompleteDiskIfDue(at);
    const ExitAction action = HandleExit(exit, devices_, at);
    switch (action.kind) {
      case ExitAction::Kind::kResume:
        if (action.mmio_value) std::memcpy(vcpu_.run().mmio.data, &*action.mmio_value, sizeof *action.mmio_value);
        break;
      case ExitAction::Kind::kHalt:
        WaitInHalt(at);
        break;
      case ExitAction::Kind::kStop: {
        result_.run.exit_code = action.exit_code;
        result_.run.exit_at = at;
        const replay::Checkpoint final_state = CaptureState(at, true);
        // Before the stop record, which ends the log.
        if (host_time_) host_time_->Sample(at, replay::VcpuActivity::kStopped);
        world_.MachineStopped(at, action.exit_code, final_state, console_out_.Digest());
        return;
      }
      case ExitAction::Kind::kFault:
        Fault(action.fault + " at exit " + std::to_string(exits_));
    }
    DeliverInterrupt(at);
  }
}

// --- checkpoints ------------------------------------------------------------------------

void Machine::TakeCheckpointIfDue(replay::Landmark at) {
  if (next_checkpoint_ == 0 || at.count != next_checkpoint_) return;
  {
    // The guest waits while its memory is hashed: on the wall axis, the checkpoint's cost.
    const machine::HostTimeSamples::Stall stall(host_time_.get(), at, replay::VcpuActivity::kCut);
    world_.CheckpointTaken(CaptureState(at, false));
  }
  if (live_) {
    next_checkpoint_ += options_.checkpoint_interval;
  } else {
    const auto next = world_.ScheduledCheckpoint();
    next_checkpoint_ = next ? next->vcpus.at(0).at.count : 0;
  }
}

replay::Checkpoint Machine::CaptureState(replay::Landmark at, bool final) {
  replay::Checkpoint checkpoint;
  checkpoint.vcpus.push_back({at, RegisterHash(vcpu_.Regs(), vcpu_.Sregs())});
  checkpoint.memory_hash = CurrentMemoryHash(final);
  return checkpoint;
}

// The first hash reads every page that can hold data and, unless it is the last, starts
// the dirty log; later ones rehash only the pages written since (KVM's log and the VMM's
// own DMA). Most compute workloads reach their end with no checkpoint before it, and so
// never pay for dirty logging.
uint64_t Machine::CurrentMemoryHash(bool final) {
  if (!memory_hash_) return HashGuestMemory(memory_);
  if (vm_.logs_dirty_pages()) {
    memory_hash_->Update(vm_.TakeDirtyPages());
  } else {
    memory_hash_->UpdateAll();
    if (!final) vm_.StartDirtyLog();
  }
  return memory_hash_->value();
}

// --- the disk -----------------------------------------------------------------------------

void Machine::StartDiskRead(const DiskRequest& request) {
  if (disk_reader_) disk_reader_->Start(request.disk_offset(), request.bytes());
  // Replay: the log says at which exit the bytes arrive (CompleteDiskIfDue).
}

void Machine::CompleteDiskIfDue(replay::Landmark at) {
  if (!disk_.in_flight().has_value()) return;
  if (live_) {
    if (!disk_reader_) return;
    std::optional<DiskReader::Done> done = disk_reader_->Poll();
    if (!done) return;
    if (!done->error.empty()) throw std::runtime_error(done->error);
    FinishDiskRequest(at, std::move(done->data), options_.disk_shared);
    interrupts_.Raise(kDiskVector, done->finished);
    return;
  }
  std::optional<replay::DmaWrite> dma = world_.ScheduledDma(0);
  if (!dma || dma->at.count != at.count) return;
  if (dma->from_shared_disk) {
    if (disk_image_ == nullptr)
      throw std::runtime_error("the log left the disk's bytes out (recorded with --disk-shared): give the disk image with --disk");
    if (dma->disk_offset != disk_.in_flight()->disk_offset()) {
      throw replay::Divergence{at, "disk read offset", std::to_string(dma->disk_offset),
                               std::to_string(disk_.in_flight()->disk_offset())};
    }
    dma->data.resize(dma->length);
    disk_image_->Read(dma->disk_offset, dma->data);
  }
  FinishDiskRequest(at, std::move(dma->data), dma->from_shared_disk);
  interrupts_.Raise(kDiskVector, clock_.Now());
}

void Machine::FinishDiskRequest(replay::Landmark at, std::vector<uint8_t> data, bool from_shared_disk) {
  const DiskRequest request = *disk_.in_flight();
  if (data.size() != request.bytes()) {
    throw replay::Divergence{at, "DMA length", std::to_string(request.bytes()) + " bytes requested",
                             std::to_string(data.size()) + " bytes"};
  }
  memory_.Write(request.address, data);
  if (memory_hash_) memory_hash_->NoteWritten(request.address, data.size());
  result_.dma_bytes += data.size();
  // Where in the image the bytes came from is logged only when they are not.
  replay::DmaWrite dma{at, request.address, {}, from_shared_disk, from_shared_disk ? request.disk_offset() : 0, data.size()};
  if (!from_shared_disk) dma.data = std::move(data);
  world_.DmaDone(dma);
  disk_.Complete();
}

// --- interrupts ---------------------------------------------------------------------------

void Machine::DeliverInterrupt(replay::Landmark at) {
  if (live_) {
    const auto now = clock_.Now();
    if (const auto due = timer_.TakeDue(now)) interrupts_.Raise(kTimerVector, *due);
    const std::optional<uint8_t> vector = interrupts_.Deliverable();
    if (!vector || !vcpu_.ReadyForInterrupt()) return;
    const auto due = interrupts_.Deliver(*vector);
    const auto delay = static_cast<uint64_t>(std::max<int64_t>(0, std::chrono::duration_cast<std::chrono::nanoseconds>(now - due).count()));
    world_.DelayedInterruptTaken(at, *vector, delay);
    vcpu_.InjectInterrupt(*vector);
    ++result_.interrupts;
    result_.interrupt_delays_ns.push_back(delay);
    return;
  }
  if (!next_interrupt_ || next_interrupt_->count != at.count) return;
  const auto vector = static_cast<uint8_t>(next_interrupt_->cause);
  if (!vcpu_.ReadyForInterrupt()) {
    throw replay::Divergence{at, "interrupt", "the guest able to take vector " + std::to_string(vector),
                             "interrupts blocked (IF clear or an interrupt in service)"};
  }
  interrupts_.Deliver(vector);
  world_.InterruptTaken(at, vector);
  vcpu_.InjectInterrupt(vector);
  ++result_.interrupts;
  next_interrupt_ = world_.ScheduledInterrupt(0);
}

// HLT: the guest waits for an interrupt. With IF clear nothing can wake it.
void Machine::WaitInHalt(replay::Landmark at) {
  if (vcpu_.run().if_flag == 0) Fault("the guest halted with interrupts disabled at exit " + std::to_string(exits_));
  if (!live_) {
    if (!next_interrupt_ || next_interrupt_->count != at.count) {
      throw replay::Divergence{at, "halt", "an interrupt logged at this exit", "none: the guest would sleep forever"};
    }
    return;
  }
  const machine::HostTimeSamples::Stall stall(host_time_.get(), at, replay::VcpuActivity::kSleep);
  for (;;) {
    const auto now = clock_.Now();
    if (const auto due = timer_.TakeDue(now)) interrupts_.Raise(kTimerVector, *due);
    CompleteDiskIfDue(at);
    if (interrupts_.Deliverable()) return;  // DeliverInterrupt injects it
    if (timed_out_.load()) Fault("the guest halted and the timeout passed at exit " + std::to_string(exits_));
    auto wake = now + std::chrono::milliseconds(10);
    if (const auto due = timer_.next_due()) wake = std::min(wake, *due);
    if (disk_reader_ && disk_.in_flight()) {
      disk_reader_->WaitUntil(wake);
    } else if (!disk_.in_flight() && !timer_.next_due()) {
      Fault("the guest halted with no timer running and no disk request in flight at exit " + std::to_string(exits_));
    } else {
      std::this_thread::sleep_until(wake);
    }
  }
}

void Machine::Fault(const std::string& why) {
  std::string registers;
  try {
    registers = DescribeRegisters(vcpu_.Regs(), vcpu_.Sregs());
  } catch (const std::exception& e) {
    registers = std::string("registers unavailable: ") + e.what();
  }
  stop_ = Stop{timed_out_.load() ? machine::Outcome::kTimeout : machine::Outcome::kFault, why + "; " + registers,
               std::nullopt};
  throw Stopped{};
}

}  // namespace rrkit::kvm
