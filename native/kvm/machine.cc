#include "kvm/machine.h"

#include <sched.h>

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
#include "machine/run_interrupts.h"
#include "replay/divergence.h"
#include "replay/log_error.h"

namespace rrkit::kvm {
namespace {

std::string DivergenceMessage(const replay::Divergence& d) { return replay::DescribeDivergence(d, "exit"); }

std::string Seconds(std::chrono::milliseconds ms) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", static_cast<double>(ms.count()) / 1000.0);
  return text;
}

}  // namespace

// One vCPU: its VM (its own view of RAM when there are several), its devices page (its own
// timer and interrupts; console and disk shared) and where it is.
struct Machine::Hart {
  uint32_t id = 0;
  std::unique_ptr<GuestMemory> mapping;  // SMP: this vCPU's view, protected to its rights
  std::unique_ptr<MappingProtector> protector;
  std::unique_ptr<Vm> vm;
  std::unique_ptr<Vcpu> vcpu;
  PeriodicTimer timer;
  InterruptController interrupts;
  std::unique_ptr<DevicesPage> devices;
  uint64_t landmarks = 0;  // exits and CREW faults so far
  std::atomic<uint64_t> published{0};
  std::optional<replay::World::Scheduled> next_interrupt;  // replay
  std::optional<uint64_t> read_to;  // SMP replay: its horizon in the log when last looked at (ReadAhead)
  uint64_t next_cut = replay::kNever;  // SMP replay: its landmark in the log's next cut
  bool finished = false;  // under cut_mutex_: stopped for good
  bool last_armed = false;  // SMP replay: ArmLastLandmark done
  std::vector<PageAccess> stop_pages;  // SMP replay: what its current stop stopped on (none at an exit)
  uint64_t interrupts_taken = 0;
  uint64_t faults = 0;
  std::vector<uint64_t> delays;
  std::chrono::steady_clock::time_point stopped_at;
  // Its entries into the guest and exits from it, for wall-clock samples (none: a no-op).
  std::optional<machine::HostTimeSamples::GuestEntries> guest_entries;
  RunProfile::Hart profile;  // RRKIT_KVM_PROFILE only

  replay::Landmark Here() const { return {id, landmarks}; }
};

Machine::Machine(const KvmSystem& system, const MachineOptions& options, replay::World& world, machine::ConsoleInput input,
                 const ElfImage& image, const DiskImage* disk, const OrderingFactory& ordering,
                 LiveOrderingFactory live_ordering)
    : options_(options),
      world_(world),
      live_(world.DeliversLiveInterrupts()),
      memory_file_(std::make_shared<MemoryFile>(options.ram_bytes)),
      memory_(memory_file_),
      console_out_(options.console),
      console_in_(std::move(input)),
      disk_(disk != nullptr ? disk->sectors() : options.disk_sectors, kImageBase, options.ram_bytes),
      disk_image_(disk),
      live_ordering_(std::move(live_ordering)),
      stop_([this] { WakeAll(); }, "exit") {
  const uint64_t setup_start = profile_.Now();
  const uint32_t n = options.vcpus;
  if (n < 1 || n > kMaxVcpus) throw std::invalid_argument("the kvm engine runs 1 to " + std::to_string(kMaxVcpus) + " vCPUs");
  if (n > 1 && image.hart_areas == 0) {
    throw std::invalid_argument("this image was not built with rrkit's SMP x86_64 runtime (no __hart_areas): it runs on one vCPU");
  }
  // All the guest can touch is the image (stacks and .bss included): back it with host
  // pages before it runs.
  memory_.Populate(image.image_end);
  std::vector<uint64_t> interrupt_stacks;
  auto area = [&](uint32_t v) { return image.hart_areas + v * kHartAreaBytes; };
  for (uint32_t v = 0; v < n; ++v) interrupt_stacks.push_back(image.hart_areas != 0 ? area(v) + kHartBootStackTop : image.boot_stack_top);
  WriteLongModeTables(memory_, interrupt_stacks);
  for (const ElfImage::Segment& segment : image.segments) memory_.Write(segment.address, segment.bytes);
  if (disk_image_ != nullptr && live_) disk_reader_ = std::make_unique<DiskReader>(*disk_image_);

  const uint64_t vms_start = profile_.Now();
  const std::vector<kvm_cpuid_entry2> cpuid = GuestCpuid(system.SupportedCpuid());
  for (uint32_t v = 0; v < n; ++v) {
    auto hart = std::make_unique<Hart>();
    hart->id = v;
    // One vCPU runs on the VMM's view; several each get a view of their own, so that
    // protecting a page for one vCPU leaves the others and the VMM alone.
    GuestMemory* view = &memory_;
    if (n > 1) {
      hart->mapping = memory_.MapAgain();
      view = hart->mapping.get();
    }
    hart->protector = std::make_unique<MappingProtector>(*view, options.crew_granularity);
    hart->vm = std::make_unique<Vm>(system, *view);
    hart->vcpu = std::make_unique<Vcpu>(*hart->vm, 0);
    hart->vcpu->SetCpuid(cpuid);
    hart->vcpu->SetSregs(LongModeSregs(kvm_sregs{}, v, image.hart_areas != 0 ? area(v) : 0));
    kvm_regs regs{};
    regs.rip = image.entry;
    regs.rsp = interrupt_stacks[v];
    regs.rdi = v;  // hart id
    regs.rsi = image.hart_areas != 0 ? area(v) : 0;
    regs.rflags = 0x2;
    hart->vcpu->SetRegs(regs);
    Hart* raw = hart.get();
    hart->devices = std::make_unique<DevicesPage>(DevicesPage::Parts{
        world, clock_, memory_, console_out_, console_in_, hart->timer, hart->interrupts, disk_,
        [this](const DiskRequest& request) { StartDiskRead(request); }, n, v,
        [this, raw](uint64_t address, uint64_t length, bool write) {
          if (ordering_ && !ordering_->GuestAccess(raw->id, raw->landmarks, address, length, write)) throw Finished{};
        },
        [this, raw] {
          if (ordering_ && !ordering_->SharedDevice(raw->id, raw->landmarks)) throw Finished{};
        }});
    harts_.push_back(std::move(hart));
  }
  profile_.vms_ns = profile_.Since(vms_start);
  if (ordering && n > 1) {
    const uint64_t ordering_start = profile_.Now();
    std::vector<PageProtector*> protectors;
    for (auto& hart : harts_) protectors.push_back(hart->protector.get());
    ordering_ = ordering(protectors, image);
    profile_.ordering_ns = profile_.Since(ordering_start);
  }

  if (options_.track_memory && n == 1) memory_hash_ = std::make_unique<MemoryHash>(memory_);
  // No ticker (a kick would cost an exit): each vCPU's thread samples at its own entries
  // and exits, and around its stalls (a CREW stop, a spin-wait, a halt).
  if (options_.host_time_sink) {
    host_time_ = std::make_unique<machine::HostTimeSamples>(options_.host_time_sink, options_.host_time_period, nullptr);
  }
  if (live_) {
    next_checkpoint_ = n == 1 ? options_.checkpoint_interval : 0;
  }
  profile_.setup_ns = profile_.Since(setup_start);
}

// One vCPU's replay reads the log as the run reaches it (replay/world.h, Horizon):
// everything logged below the horizon has been read, so what comes next is known until the
// run gets there.
void Machine::RefreshFromLog(Hart& hart) {
  if (world_.Horizon(hart.id) > hart.landmarks) return;
  world_.Advance(hart.id, hart.landmarks);
  StopIfAsked(hart);
  hart.next_interrupt = world_.ScheduledInterrupt(hart.id);
  if (const auto checkpoint = world_.ScheduledCheckpoint()) next_checkpoint_ = checkpoint->vcpus.at(0).at.count;
  LearnLogEnd();
}

// Several vCPUs read the log one landmark ahead of each: before the vCPU runs to landmark
// n + 1, everything logged for it up to there has been read — a recorded stop at n + 1,
// which CrewReplay arms before the run, and the edges into it, which its gate must hold
// when the vCPU gets there. The log is read as far as that and no further (the horizon:
// replay/world.h), so a replay follows a log still being written, in bounded memory.
void Machine::ReadAhead(Hart& hart) {
  const uint64_t next = hart.landmarks + 1;
  if (world_.Horizon(hart.id) <= next) {
    world_.Advance(hart.id, next);
    StopIfAsked(hart);
  }
  const uint64_t horizon = world_.Horizon(hart.id);
  if (hart.read_to == horizon) return;  // nothing of this vCPU's was read since
  hart.read_to = horizon;
  if (!hart.next_interrupt) hart.next_interrupt = world_.ScheduledInterrupt(hart.id);
  hart.next_cut = NextCutOf(hart.id);
  LearnLogEnd();
}

// A timeout or SIGINT cancels reading the log (a replay waiting for more of it): a vCPU
// back from reading stops as it would at a kick, before it runs on what was not read.
void Machine::StopIfAsked(Hart& hart) {
  if (interrupted_.load()) Interrupted(hart);
  if (timed_out_.load()) {
    Fault(hart, "the replay did not end within the timeout of " + Seconds(options_.timeout) + " s (it was at exit " +
                    std::to_string(hart.landmarks) + ", reading the log)");
  }
}

void Machine::LearnLogEnd() {
  if (Final() != nullptr && SwitchAt() != nullptr) return;
  std::lock_guard lock(log_end_mutex_);
  if (!final_known_.load(std::memory_order_relaxed)) {
    if (std::optional<std::vector<uint64_t>> final = world_.FinalLandmarks()) {
      if (final->size() != harts_.size()) {
        throw replay::UnreplayableLog("the log's final landmarks name " + std::to_string(final->size()) + " vCPUs, not " +
                                      std::to_string(harts_.size()));
      }
      final_ = std::move(final);
      final_known_.store(true, std::memory_order_release);
    }
  }
  if (!switch_known_.load(std::memory_order_relaxed)) {
    if (std::optional<std::vector<uint64_t>> at = world_.SwitchLandmarks()) {
      switch_at_ = std::move(at);
      switch_known_.store(true, std::memory_order_release);
    }
  }
}

// Every record at the log's last landmark was consumed while handling that exit, so the
// state at the next exit is the recording's as far as the log can say: from there the
// machine runs as a recording does (the next log, if any, has the replayed records before
// this exit's). The guest's clock goes on from the last value it read; a disk read the
// guest started in the replayed part, and the log did not complete, is read now.
void Machine::GoLive(Hart& hart) {
  world_.GoLive();
  live_ = true;
  clock_.ContinueFrom(hart.devices->latest_clock_ns());
  StartDiskLive();
  hart.next_interrupt.reset();
  next_checkpoint_ = options_.checkpoint_interval == 0 ? 0 : hart.landmarks + options_.checkpoint_interval;
}

// Replay of a log that ended, before the run to a vCPU's last landmark in it: a stop there
// may have lost its fault record (the log cut between the edges into the stop and it).
void Machine::ArmLastLandmark(Hart& hart) {
  if (hart.last_armed) return;
  const std::vector<uint64_t>* last = SwitchAt();
  if (last == nullptr && Final() != nullptr && world_.FinalLandmarksEndAnIncompleteLog()) last = Final();
  if (last == nullptr || hart.landmarks + 1 != (*last)[hart.id]) return;
  ordering_->ArmEdgesInto(hart.id, hart.landmarks + 1);
  hart.last_armed = true;
}

void Machine::StartDiskLive() {
  if (disk_image_ != nullptr) disk_reader_ = std::make_unique<DiskReader>(*disk_image_);
  if (const std::optional<DiskRequest>& request = disk_.in_flight()) {
    if (!disk_reader_) {
      throw std::runtime_error("a disk read was in flight at the end of the log and there is no disk image to finish it live from");
    }
    disk_reader_->Start(request->disk_offset(), request->bytes());
  }
}

// --- cuts: several vCPUs going live together ---------------------------------------------

uint64_t Machine::NextCutOf(uint32_t v) {
  const std::optional<replay::Checkpoint> cut = world_.ScheduledCheckpoint();
  if (!cut) return replay::kNever;
  if (cut->vcpus.size() != harts_.size()) {
    throw replay::UnreplayableLog("the log holds a cut of " + std::to_string(cut->vcpus.size()) + " vCPUs on a machine of " +
                                  std::to_string(harts_.size()));
  }
  for (const replay::Checkpoint::Vcpu& at : cut->vcpus) {
    if (at.at.vcpu == v) return at.at.count;
  }
  throw replay::UnreplayableLog("the log holds a cut that names no landmark of vcpu " + std::to_string(v));
}

// A cut logged in an SMP kvm log is where a replay went live (GoLiveTogether): every vCPU
// stops on reaching its landmark in it, the state there is compared with the logged one,
// and the landmark is handled with the records that follow the cut (the replaying world
// dropped those before it: Options::cuts_void_records_at_their_landmarks). Then, replaying
// a log cut short and going on live: its end.
void Machine::JoinCutsAt(Hart& hart) {
  const std::vector<uint64_t>* at = SwitchAt();
  const bool switch_here = at != nullptr && (*at)[hart.id] == hart.landmarks && !live_;
  if (hart.next_cut != hart.landmarks && !switch_here) return;
  // Whoever follows this vCPU from here on may pass while it waits (replay publishes a
  // landmark on reaching it, before handling it).
  if (ordering_) ordering_->Reached(hart.id, hart.landmarks);
  while (hart.next_cut == hart.landmarks) {
    JoinCut(hart, [this] { world_.CheckpointTaken(CaptureState(false)); });
    hart.next_cut = NextCutOf(hart.id);
    // The interrupt it looked at may have been one the cut voided.
    hart.next_interrupt = world_.ScheduledInterrupt(hart.id);
  }
  if (switch_here) JoinCut(hart, [this] { GoLiveTogether(); });
}

void Machine::JoinCut(Hart&, const std::function<void()>& last) {
  std::unique_lock lock(cut_mutex_);
  const uint64_t generation = cut_generation_;
  ++cut_arrived_;
  for (;;) {
    if (cut_generation_ != generation) return;
    if (stop_.stopping()) throw Finished{};
    if (cut_arrived_ + cut_finished_ == harts_.size()) {
      // Everyone is here (or gone for good): act, then release them, also if acting failed
      // (this vCPU's thread reports it and stops the machine).
      const auto release = [&] {
        cut_arrived_ = 0;
        ++cut_generation_;
        cut_cv_.notify_all();
      };
      try {
        last();
      } catch (...) {
        release();
        throw;
      }
      release();
      return;
    }
    cut_cv_.wait(lock);
  }
}

// Every vCPU has stopped on reaching its last landmark in the log (JoinCutsAt), none of them
// handled yet: what the log holds at a vCPU's last landmark may be cut short (a stop's
// edges without its fault record, an exit that yielded pages without its input), so each
// such landmark is handled live, from the world. The next log gets the cut (a checkpoint:
// the landmarks and the state), so that its replay stops every vCPU there, drops the
// records copied from this log at those landmarks, and compares the state; the live part's
// CREW starts afresh (the start rights: nobody holds RAM but code and the hart areas), and
// whoever touches a page first after the cut stops for it.
void Machine::GoLiveTogether() {
  const replay::Checkpoint cut = CaptureState(false);
  world_.GoLive();
  live_ = true;
  world_.CheckpointTaken(cut);  // the next log's, or nothing when no log is written
  uint64_t latest = 0;
  for (auto& hart : harts_) latest = std::max(latest, hart->devices->latest_clock_ns());
  clock_.ContinueFrom(latest);
  StartDiskLive();
  std::vector<PageProtector*> protectors;
  for (auto& hart : harts_) {
    hart->next_interrupt.reset();
    protectors.push_back(hart->protector.get());
  }
  replayed_ordering_ = std::move(ordering_);
  if (live_ordering_) {
    ordering_ = live_ordering_(protectors);
    for (auto& hart : harts_) {
      if (hart->finished) {
        ordering_->Finished(hart->id, hart->landmarks);
      } else {
        ordering_->WentLiveAt(hart->id, hart->landmarks, hart->stop_pages);
      }
    }
  } else {
    // Nothing recorded: every vCPU gets all of RAM back (the replay may have taken a page
    // away for a stop it was about to make).
    const uint64_t g = options_.crew_granularity;
    for (PageProtector* p : protectors) p->Protect(kImageBase / g, options_.ram_bytes / g - kImageBase / g, crew::Access::kWrite);
  }
}

Machine::~Machine() = default;

uint64_t Machine::ExitsSoFar() const {
  uint64_t total = 0;
  for (const auto& hart : harts_) total += hart->published.load(std::memory_order_relaxed);
  return total;
}

RunResult Machine::Run() {
  const auto started = std::chrono::steady_clock::now();
  // SIGINT/SIGTERM: every vCPU stopped at its next landmark like a timeout (a recording's log
  // sealed, incomplete).
  const machine::InterruptibleRun interruptible([this] {
    interrupted_.store(true);
    for (auto& hart : harts_) hart->vcpu->Kick();
    world_.Cancel();  // a replay waiting for more of a log (--follow)
  });
  if (host_time_) host_time_->Start();
  std::vector<std::thread> threads;
  for (auto& hart : harts_) threads.emplace_back([this, h = hart.get()] { HartThread(*h); });
  std::thread watchdog;
  if (options_.timeout.count() > 0) watchdog = std::thread([this] { Timeout(); });
  stop_.WaitForThreads(static_cast<uint32_t>(harts_.size()), std::chrono::milliseconds(0));
  for (auto& thread : threads) thread.join();
  {
    std::lock_guard lock(watchdog_mutex_);
    finished_ = true;
  }
  watchdog_cv_.notify_all();
  if (watchdog.joinable()) watchdog.join();
  console_out_.Flush();

  machine::RunResult& run = result_.run;
  run.outcome = stop_.stopping() ? stop_.outcome() : machine::Outcome::kExited;
  run.error = stop_.error();
  run.divergence = stop_.divergence();
  const auto exit = stop_.exit();
  if (exit) {
    run.exit_at = exit->at;
    run.exit_code = exit->code;
  }
  auto last_stop = started;
  emu::StateHasher state;
  replay::Checkpoint final_state;
  try {
    for (auto& hart : harts_) {
      const kvm_regs& regs = hart->vcpu->Regs();
      const uint64_t register_hash = RegisterHash(regs, hart->vcpu->Sregs());
      run.vcpus.push_back({hart->landmarks, regs.rip, register_hash});
      final_state.vcpus.push_back({hart->Here(), register_hash});
      state.Add(register_hash);
      result_.interrupts += hart->interrupts_taken;
      result_.crew_faults += hart->faults;
      result_.interrupt_delays_ns.insert(result_.interrupt_delays_ns.end(), hart->delays.begin(), hart->delays.end());
      last_stop = std::max(last_stop, hart->stopped_at);
    }
    run.memory_hash = CurrentMemoryHash(true);
    final_state.memory_hash = run.memory_hash;
  } catch (const std::exception& e) {
    if (run.error.empty()) run.error = e.what();
  }
  state.Add(run.memory_hash);
  run.state_hash = state.Finish();
  result_.guest_seconds = std::chrono::duration<double>(last_stop - started).count();
  if (run.outcome == machine::Outcome::kExited && exit) {
    try {
      world_.MachineStopped(exit->at, exit->code, final_state, console_out_.Digest());
    } catch (const replay::Divergence& d) {
      run.outcome = machine::Outcome::kDiverged;
      run.error = DivergenceMessage(d);
      run.divergence = d;
    }
  }

  RunResult result = std::move(result_);
  result.run.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (profile_.enabled()) {
    std::vector<const RunProfile::Hart*> profiles;
    for (auto& hart : harts_) {
      hart->profile.protect_calls = hart->protector->calls();
      profiles.push_back(&hart->profile);
    }
    std::fputs(profile_.Summary(profiles, result.run.wall_seconds).c_str(), stderr);
  }
  if (options_.console == machine::ConsoleOutput::Mode::kCapture) result.run.console = console_out_.Captured();
  return result;
}

void Machine::Timeout() {
  std::unique_lock lock(watchdog_mutex_);
  if (watchdog_cv_.wait_for(lock, options_.timeout, [this] { return finished_; })) return;
  timed_out_.store(true);
  for (auto& hart : harts_) hart->vcpu->Kick();
  world_.Cancel();
  std::lock_guard cut_lock(cut_mutex_);
  if (ordering_) ordering_->Stop(true);
}

// The stop protocol's wake-up. After an exit the other vCPUs stop at their next landmarks
// (so that replay can stop them there too): only sleepers are woken. After anything else
// the run's end state does not matter: every vCPU is kicked out of KVM_RUN.
void Machine::WakeAll() {
  const bool abandon = stop_.outcome() != machine::Outcome::kExited;
  {
    std::lock_guard lock(cut_mutex_);
    if (ordering_) ordering_->Stop(abandon);
  }
  cut_cv_.notify_all();  // a vCPU waiting at a cut stops
  if (abandon) {
    world_.Cancel();  // a vCPU reading the log ahead (SMP replay, --follow) stops waiting for it
    for (auto& hart : harts_) hart->vcpu->Kick();
  }
}

void Machine::HartThread(Hart& hart) {
  UnblockKickOnThisThread();
  hart.vcpu->BindToCallingThread();
  try {
    hart.guest_entries.emplace(host_time_.get(), hart.Here());
    RunLoop(hart);
  } catch (const Finished&) {
    // The vCPU that wrote the exit register sampled its stop already; the others stop here.
    const auto exit = stop_.exit();
    if (host_time_ && smp() && !(exit && exit->at.vcpu == hart.id)) host_time_->Sample(hart.Here(), replay::VcpuActivity::kStopped);
  } catch (const replay::Divergence& d) {
    stop_.Diverged(d);
  } catch (const replay::LogError& e) {
    stop_.Stop(machine::Outcome::kLogDamaged, e.what());
  } catch (const replay::UnreplayableLog& e) {
    stop_.Stop(machine::Outcome::kLogDamaged, e.what());
  } catch (const std::exception& e) {
    stop_.Stop(machine::Outcome::kHostError, (smp() ? "vcpu " + std::to_string(hart.id) + ": " : std::string()) + e.what());
  }
  hart.stopped_at = std::chrono::steady_clock::now();
  hart.vcpu->UnbindThread();
  {
    // Finished before any cut to come: it joins none (and the live CREW parks it).
    std::lock_guard lock(cut_mutex_);
    if (ordering_) ordering_->Finished(hart.id, hart.landmarks);
    hart.finished = true;
    ++cut_finished_;
  }
  cut_cv_.notify_all();
  // Replay: once every vCPU reached its recorded end, the machine has stopped.
  if (stop_.VcpuFinished() == harts_.size() && !stop_.stopping()) {
    if (stop_.exit()) {
      stop_.Stop(machine::Outcome::kExited, "");
    } else if (Final() != nullptr && !world_.FinalLandmarksEndAnIncompleteLog()) {
      // A complete log ends with the guest's exit: every vCPU at its end without it is a divergence.
      stop_.Diverged(replay::ExitNotReached(hart.Here()));
    } else {
      stop_.Stop(Final() != nullptr ? machine::Outcome::kReachedCounts : machine::Outcome::kFault,
                 Final() != nullptr ? "" : "every vCPU stopped without an exit");
    }
  }
  stop_.ThreadEnded();
}

// Counts a landmark. Returns false when the vCPU stops there without acting on it: the
// machine is stopping (another vCPU wrote the exit register), or replay reached the
// landmark where the recording's vCPU stopped — unless that is where it wrote the exit
// register, which replay then does too.
bool Machine::ReachLandmark(Hart& hart, bool exit_write) {
  ++hart.landmarks;
  hart.published.store(hart.landmarks, std::memory_order_relaxed);
  if (!live_ && smp()) JoinCutsAt(hart);
  if (!live_ && !smp()) {
    RefreshFromLog(hart);
    // Past the log's end; or at its last landmark, the guest writing the exit register, when
    // the stop record never reached the log: the live world records the stop.
    const std::vector<uint64_t>* switch_at = SwitchAt();
    if (switch_at != nullptr && (hart.landmarks > (*switch_at)[hart.id] || (exit_write && hart.landmarks == (*switch_at)[hart.id]))) {
      GoLive(hart);
    }
  }
  if (const std::vector<uint64_t>* final = Final()) {
    const uint64_t end = (*final)[hart.id];
    if (world_.FinalLandmarksEndAnIncompleteLog()) {
      // The log vouches for nothing beyond its last landmark: stop before handling the next.
      // Several vCPUs stop on reaching the last one: what the log holds there may be cut
      // short (a stop's edges without its fault record, an exit yielding pages without its
      // input), since each vCPU's records at a landmark are spread over the log.
      if (hart.landmarks < end || (hart.landmarks == end && !smp())) return true;
      if (hart.landmarks == end) return false;
      --hart.landmarks;
      hart.published.store(hart.landmarks, std::memory_order_relaxed);
      return false;
    }
    if (hart.landmarks > end) {
      throw replay::Divergence{hart.Here(), "exit count", "the recording stopped at exit " + std::to_string(end),
                               "the guest went on (" + ExitReasonName(hart.vcpu->run().exit_reason) + ")"};
    }
    return hart.landmarks < end || exit_write;
  }
  return !stop_.stopping();
}

void Machine::RunLoop(Hart& hart) {
  Vcpu& vcpu = *hart.vcpu;
  if (!live_ && smp()) {  // a cut at landmark 0: a vCPU the log names nowhere else
    ReadAhead(hart);
    JoinCutsAt(hart);
  }
  for (;;) {
    if (!live_ && smp()) ReadAhead(hart);
    if (ordering_) {
      const uint64_t t = profile_.Now();
      ordering_->BeforeRun(hart.id, hart.landmarks);
      hart.profile.before_run.Add(profile_.Since(t));
    }
    if (!live_ && smp()) ArmLastLandmark(hart);
    hart.guest_entries->Entering(hart.Here());
    const uint64_t entered = profile_.Now();
    const Vcpu::Stop stopped = vcpu.Run();
    (stopped == Vcpu::Stop::kMemoryFault ? hart.profile.run_to_fault : hart.profile.run_to_exit).Add(profile_.Since(entered));
    switch (stopped) {
      case Vcpu::Stop::kKicked:
        vcpu.ClearKick();
        if (interrupted_.load()) Interrupted(hart);
        if (timed_out_.load()) {
          Fault(hart, "the guest did not stop within the timeout of " + Seconds(options_.timeout) + " s (it was at exit " +
                          std::to_string(hart.landmarks) + ")");
        }
        if (stop_.stopping()) throw Finished{};
        continue;
      case Vcpu::Stop::kMemoryFault:
        HandleMemoryFault(hart, false);
        continue;
      case Vcpu::Stop::kExit:
        break;
    }
    const VmExit exit = DecodeExit(vcpu.run());
    if (exit.kind == VmExit::Kind::kMmio && exit.address < options_.ram_bytes) {
      if (HandleRamMmio(hart)) continue;
    }
    if (ordering_ && exit.kind == VmExit::Kind::kInternalError && exit.detail == KVM_INTERNAL_ERROR_EMULATION &&
        HandleMemoryFault(hart, true)) {
      continue;
    }
    const bool exit_write = exit.kind == VmExit::Kind::kMmio && exit.is_write &&
                            exit.address == kDevicesBase + static_cast<uint64_t>(DeviceRegister::kExit);
    hart.stop_pages.clear();
    if (!ReachLandmark(hart, exit_write)) throw Finished{};
    const replay::Landmark at = hart.Here();
    // Samples first: one for the stretch's start names the landmark before this one, and
    // CREW's Poll here may log edges from this landmark (the log is in order per vCPU).
    hart.guest_entries->Exited(at);
    if (ordering_) {
      const uint64_t t = profile_.Now();
      ordering_->AtExit(hart.id, at.count);
      hart.profile.at_exit.Add(profile_.Since(t));
    }

    const uint64_t handling = profile_.Now();
    if (hart.id == 0) TakeCheckpointIfDue(hart, at);
    if (hart.id == 0) CompleteDiskIfDue(hart, at);
    const ExitAction action = HandleExit(exit, *hart.devices, at);
    hart.profile.handle_exit.Add(profile_.Since(handling));
    switch (action.kind) {
      case ExitAction::Kind::kResume:
        if (action.mmio_value) std::memcpy(vcpu.run().mmio.data, &*action.mmio_value, sizeof *action.mmio_value);
        break;
      case ExitAction::Kind::kRelax: {
        const uint64_t t = profile_.Now();
        if (ordering_) {
          const machine::HostTimeSamples::Stall stall(host_time_.get(), at, replay::VcpuActivity::kSpinWait);
          ordering_->SpinWait(hart.id, at.count);
        } else if (smp()) {
          sched_yield();
        }
        hart.profile.spin_wait.Add(profile_.Since(t));
        break;
      }
      case ExitAction::Kind::kPark:
        // Replay stops a vCPU at its recorded end before it handles that exit: parking
        // earlier means it has fewer landmarks than the recording's (a fault record lost).
        if (Final() != nullptr && !world_.FinalLandmarksEndAnIncompleteLog()) {
          throw replay::Divergence{at, "exit count", "the recording's vCPU went on to exit " + std::to_string((*Final())[hart.id]),
                                   "it parked here (its main returned)"};
        }
        throw Finished{};
      case ExitAction::Kind::kHalt: {
        const uint64_t t = profile_.Now();
        if (ordering_) {
          ordering_->Halted(hart.id, at.count, [&] { WaitInHalt(hart, at); });
        } else {
          WaitInHalt(hart, at);
        }
        hart.profile.halt.Add(profile_.Since(t));
        break;
      }
      case ExitAction::Kind::kStop: {
        if (!stop_.RecordExit(at, action.exit_code)) throw Finished{};
        if (!live_ && Final() == nullptr) {
          // The log streams in and its end is not read yet: read on to it, so that an exit
          // the recording did not make is a divergence rather than an early end of the log.
          world_.Advance(hart.id, replay::kNever);
          LearnLogEnd();
        }
        const std::vector<uint64_t>* final = Final();
        if (final != nullptr && hart.landmarks != (*final)[hart.id]) {
          throw replay::Divergence{at, "exit", "the guest's exit at exit " + std::to_string((*final)[hart.id]), "an exit here"};
        }
        // Before the stop record, which ends the log.
        if (host_time_) host_time_->Sample(at, replay::VcpuActivity::kStopped);
        if (final == nullptr) stop_.Stop(machine::Outcome::kExited, "");
        throw Finished{};
      }
      case ExitAction::Kind::kFault:
        Fault(hart, action.fault + " at exit " + std::to_string(hart.landmarks));
    }
    DeliverInterrupt(hart, at);
  }
}

// KVM_RUN failed with EFAULT: the guest touched a page its mapping does not allow (SMP:
// CREW's protection). KVM reports no address, so the instruction at rip says which pages.
// `emulation_failure`: the PVM backend could not emulate a CPL0 instruction (a locked one)
// on a protected page: the same, if the instruction needs a page the vCPU lacks (returns
// false otherwise: a real emulation failure).
bool Machine::HandleMemoryFault(Hart& hart, bool emulation_failure) {
  const kvm_regs& regs = hart.vcpu->Regs();
  if (!ordering_) Fault(hart, "the guest touched memory KVM could not map (KVM_RUN failed with EFAULT)");
  uint8_t bytes[15] = {};
  const uint64_t available = regs.rip < options_.ram_bytes ? std::min<uint64_t>(15, options_.ram_bytes - regs.rip) : 0;
  if (available == 0) Fault(hart, "KVM_RUN failed with EFAULT with rip outside RAM");
  const uint64_t decoding = profile_.Now();
  memory_.Read(regs.rip, std::span(bytes, available));
  std::string error;
  const auto decoded = decoder_.Decode(std::span<const uint8_t>(bytes, available), regs, hart.vcpu->Sregs(), error);
  if (!decoded) {
    if (emulation_failure) return false;
    Fault(hart, "a stop on a protected page (EFAULT): " + error);
  }
  const std::vector<PageAccess> needed = PagesTouched(ordering_->geometry(), decoded->accesses, kImageBase, options_.ram_bytes);
  hart.profile.decode.Add(profile_.Since(decoding));
  if (emulation_failure && !ordering_->Protects(hart.id, needed)) return false;
  hart.stop_pages = ordering_->ArmedStop(hart.id);  // replay: what it stopped on
  // A vCPU that stops here still reports the fault: replay must stop at it too.
  const bool go_on = ReachLandmark(hart, false);
  ++hart.faults;
  if (!AtFault(hart, needed, go_on)) throw Finished{};
  return true;
}

// A CREW stop: the vCPU waits (a page wait on the wall-clock timeline) until it may go on.
bool Machine::AtFault(Hart& hart, std::span<const PageAccess> needed, bool go_on) {
  // Gone live here with nothing recorded: every vCPU has all of RAM (GoLiveTogether).
  if (!ordering_) return go_on;
  hart.guest_entries->Exited(hart.Here());
  const machine::HostTimeSamples::Stall stall(host_time_.get(), hart.Here(), replay::VcpuActivity::kPageWait);
  const uint64_t t = profile_.Now();
  const bool granted = ordering_->AtFault(hart.id, hart.landmarks, needed, !go_on);
  const uint64_t waited = profile_.Since(t);
  hart.profile.page_wait.Add(waited);
  if (waited > RunProfile::kLongWait) hart.profile.long_page_wait.Add(waited);
  return granted;
}

// On the PVM backend CPL0 code is emulated, and its access to a protected page exits as
// MMIO inside RAM, with the address. A CREW fault like the others; once the page is the
// vCPU's, the VMM completes the access itself (KVM has emulated the instruction up to it).
bool Machine::HandleRamMmio(Hart& hart) {
  kvm_run& run = hart.vcpu->run();
  if (!ordering_) Fault(hart, "an access to guest RAM exited as MMIO");
  const MemoryAccess access{run.mmio.phys_addr, run.mmio.len, run.mmio.is_write != 0};
  if (access.length > sizeof run.mmio.data || !memory_.Contains(access.address, access.length))
    Fault(hart, "an MMIO exit inside RAM the VMM cannot complete");
  const std::vector<PageAccess> needed = PagesTouched(ordering_->geometry(), std::span(&access, 1), kImageBase, options_.ram_bytes);
  hart.stop_pages = ordering_->ArmedStop(hart.id);  // replay: what it stopped on
  const bool go_on = ReachLandmark(hart, false);
  ++hart.faults;
  if (!AtFault(hart, needed, go_on)) throw Finished{};
  if (access.write) {
    memory_.Write(access.address, std::span<const uint8_t>(run.mmio.data, access.length));
  } else {
    memory_.Read(access.address, std::span<uint8_t>(run.mmio.data, access.length));
  }
  return true;
}

// --- checkpoints (one vCPU) -------------------------------------------------------------

void Machine::TakeCheckpointIfDue(Hart&, replay::Landmark at) {
  if (next_checkpoint_ == 0 || at.count != next_checkpoint_) return;
  {
    // The guest waits while its memory is hashed: on the wall axis, the checkpoint's cost.
    const machine::HostTimeSamples::Stall stall(host_time_.get(), at, replay::VcpuActivity::kCut);
    world_.CheckpointTaken(CaptureState(false));
  }
  if (live_) {
    next_checkpoint_ += options_.checkpoint_interval;
  } else {
    const auto next = world_.ScheduledCheckpoint();
    next_checkpoint_ = next ? next->vcpus.at(0).at.count : 0;
  }
}

replay::Checkpoint Machine::CaptureState(bool final) {
  replay::Checkpoint checkpoint;
  for (auto& hart : harts_) checkpoint.vcpus.push_back({hart->Here(), RegisterHash(hart->vcpu->Regs(), hart->vcpu->Sregs())});
  checkpoint.memory_hash = CurrentMemoryHash(final);
  return checkpoint;
}

// The first hash reads every page that can hold data and, unless it is the last, starts
// the dirty log; later ones rehash only the pages written since (KVM's log and the VMM's
// own DMA). Most compute workloads reach their end with no checkpoint before it, and so
// never pay for dirty logging. Several vCPUs: the whole of RAM once, at the end.
uint64_t Machine::CurrentMemoryHash(bool final) {
  if (!memory_hash_) return HashGuestMemory(memory_);
  Vm& vm = *harts_[0]->vm;
  if (vm.logs_dirty_pages()) {
    memory_hash_->Update(vm.TakeDirtyPages());
  } else {
    memory_hash_->UpdateAll();
    if (!final) vm.StartDirtyLog();
  }
  return memory_hash_->value();
}

// --- the disk (hart 0's) ---------------------------------------------------------------------

void Machine::StartDiskRead(const DiskRequest& request) {
  if (disk_reader_) disk_reader_->Start(request.disk_offset(), request.bytes());
  // Replay: the log says at which exit the bytes arrive (CompleteDiskIfDue).
}

void Machine::CompleteDiskIfDue(Hart& hart, replay::Landmark at) {
  if (!disk_.in_flight().has_value()) return;
  if (live_) {
    if (!disk_reader_) return;
    std::optional<DiskReader::Done> done = disk_reader_->Poll();
    if (!done) return;
    if (!done->error.empty()) throw std::runtime_error(done->error);
    FinishDiskRequest(hart, at, std::move(done->data), options_.disk_shared);
    hart.interrupts.Raise(kDiskVector, done->finished);
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
  FinishDiskRequest(hart, at, std::move(dma->data), dma->from_shared_disk);
  hart.interrupts.Raise(kDiskVector, clock_.Now());
}

void Machine::FinishDiskRequest(Hart& hart, replay::Landmark at, std::vector<uint8_t> data, bool from_shared_disk) {
  const DiskRequest request = *disk_.in_flight();
  if (data.size() != request.bytes()) {
    throw replay::Divergence{at, "DMA length", std::to_string(request.bytes()) + " bytes requested",
                             std::to_string(data.size()) + " bytes"};
  }
  // SMP: the DMA writes for hart 0, which must own the pages first.
  if (ordering_ && !ordering_->GuestAccess(hart.id, at.count, request.address, data.size(), true)) throw Finished{};
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

void Machine::DeliverInterrupt(Hart& hart, replay::Landmark at) {
  Vcpu& vcpu = *hart.vcpu;
  if (live_) {
    const auto now = clock_.Now();
    if (const auto due = hart.timer.TakeDue(now)) hart.interrupts.Raise(kTimerVector, *due);
    const std::optional<uint8_t> vector = hart.interrupts.Deliverable();
    if (!vector || !vcpu.ReadyForInterrupt()) return;
    const auto due = hart.interrupts.Deliver(*vector);
    const auto delay = static_cast<uint64_t>(std::max<int64_t>(0, std::chrono::duration_cast<std::chrono::nanoseconds>(now - due).count()));
    world_.DelayedInterruptTaken(at, *vector, delay);
    vcpu.InjectInterrupt(*vector);
    ++hart.interrupts_taken;
    hart.delays.push_back(delay);
    return;
  }
  if (!hart.next_interrupt || hart.next_interrupt->count != at.count) return;
  const auto vector = static_cast<uint8_t>(hart.next_interrupt->cause);
  if (!vcpu.ReadyForInterrupt()) {
    throw replay::Divergence{at, "interrupt", "the guest able to take vector " + std::to_string(vector),
                             "interrupts blocked (IF clear or an interrupt in service)"};
  }
  hart.interrupts.Deliver(vector);
  world_.InterruptTaken(at, vector);
  vcpu.InjectInterrupt(vector);
  ++hart.interrupts_taken;
  hart.next_interrupt = world_.ScheduledInterrupt(hart.id);
}

// HLT: the guest waits for an interrupt. With IF clear nothing can wake it.
void Machine::WaitInHalt(Hart& hart, replay::Landmark at) {
  if (hart.vcpu->run().if_flag == 0) Fault(hart, "the guest halted with interrupts disabled at exit " + std::to_string(hart.landmarks));
  if (!live_) {
    if (hart.next_interrupt && hart.next_interrupt->count == at.count) return;
    // Replay then live, the log ending in this halt: what wakes the guest comes from the world.
    // (Several vCPUs go live on reaching their last landmark, before handling it: JoinCutsAt.)
    const bool log_ends_here = !smp() && SwitchAt() != nullptr && at.count >= (*SwitchAt())[hart.id];
    if (!log_ends_here) throw replay::Divergence{at, "halt", "an interrupt logged at this exit", "none: the guest would sleep forever"};
    GoLive(hart);
  }
  const machine::HostTimeSamples::Stall stall(host_time_.get(), at, replay::VcpuActivity::kSleep);
  for (;;) {
    const auto now = clock_.Now();
    if (const auto due = hart.timer.TakeDue(now)) hart.interrupts.Raise(kTimerVector, *due);
    if (hart.id == 0) CompleteDiskIfDue(hart, at);
    if (hart.interrupts.Deliverable()) return;  // DeliverInterrupt injects it
    if (interrupted_.load()) Interrupted(hart);
    if (timed_out_.load()) Fault(hart, "the guest halted and the timeout passed at exit " + std::to_string(hart.landmarks));
    if (stop_.stopping()) throw Finished{};
    auto wake = now + std::chrono::milliseconds(10);
    if (const auto due = hart.timer.next_due()) wake = std::min(wake, *due);
    if (hart.id == 0 && disk_reader_ && disk_.in_flight()) {
      disk_reader_->WaitUntil(wake);
    } else if ((hart.id != 0 || !disk_.in_flight()) && !hart.timer.next_due()) {
      Fault(hart, "the guest halted with no timer running and no disk request in flight at exit " + std::to_string(hart.landmarks));
    } else {
      std::this_thread::sleep_until(wake);
    }
  }
}

void Machine::Interrupted(Hart& hart) {
  stop_.Stop(machine::Outcome::kInterrupted,
             (smp() ? "vcpu " + std::to_string(hart.id) + ": " : std::string()) + "the run was interrupted at exit " + std::to_string(hart.landmarks));
  throw Finished{};
}

void Machine::Fault(Hart& hart, const std::string& why) {
  std::string registers;
  try {
    registers = DescribeRegisters(hart.vcpu->Regs(), hart.vcpu->Sregs());
  } catch (const std::exception& e) {
    registers = std::string("registers unavailable: ") + e.what();
  }
  stop_.Stop(timed_out_.load() ? machine::Outcome::kTimeout : machine::Outcome::kFault,
             (smp() ? "vcpu " + std::to_string(hart.id) + ": " : std::string()) + why + "; " + registers);
  throw Finished{};
}

}  // namespace rrkit::kvm
