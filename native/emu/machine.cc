#include "emu/machine.h"

#include <algorithm>
#include <array>
#include <bit>
#include <limits>

#include <sched.h>

#include "emu/ram_hash.h"
#include "emu/state_hash.h"
#include "replay/log_error.h"

namespace rrkit::emu {
namespace {

constexpr uint64_t kNever = std::numeric_limits<uint64_t>::max();
static_assert(kNever == crew::Crew::kNoDeferral, "a count CREW does not ask for is never reached");

// The longest a spin-waiting hart sleeps without news (Machine::SpinWait): short enough
// for spins on the clock, long enough to leave the cores to the harts doing work.
constexpr std::chrono::microseconds kSpinWaitTimeout{200};

// Highest-priority pending-and-enabled interrupt (privileged spec: MEI > MSI > MTI).
uint64_t HighestInterrupt(uint64_t pending) {
  if (pending & kMipMeip) return kInterruptExternal;
  if (pending & kMipMsip) return kInterruptSoftware;
  return kInterruptTimer;
}

std::string DivergenceMessage(const replay::Divergence& d) {
  return "replay diverged at hart " + std::to_string(d.at.vcpu) + " instruction " + std::to_string(d.at.count) + ": " +
         d.what + " expected " + d.expected + ", got " + d.actual;
}

// SMP record: while a hart blocks (wfi, a cut), CREW takes its pages without its help.
class ParkedIfCrew {
 public:
  ParkedIfCrew(crew::Crew* crew, const Hart& hart) : crew_(crew), vcpu_(hart.id()) {
    if (crew_ != nullptr) crew_->Park(vcpu_, hart.instret);
  }
  ~ParkedIfCrew() {
    if (crew_ != nullptr) crew_->Unpark(vcpu_);
  }
  ParkedIfCrew(const ParkedIfCrew&) = delete;
  ParkedIfCrew& operator=(const ParkedIfCrew&) = delete;

 private:
  crew::Crew* crew_;
  uint32_t vcpu_;
};

}  // namespace

// What the run loop tracks for one hart besides its architectural state.
struct alignas(64) Machine::HartRun {
  explicit HartRun(Hart& h) : hart(h) {}
  Hart& hart;
  uint64_t target = kNever;       // the next count at which something must happen
  uint64_t final_count = kNever;  // stop here (stop_at, or replay's final landmark)
  uint64_t cut_count = kNever;    // join the next consistent cut here
  std::optional<replay::World::Scheduled> next_interrupt;  // replay only
  bool sleeping = false;          // in wfi
  OwnershipFault ownership_fault;  // SMP record: the page the last refused access needs
  uint64_t crew_poll_at = kNever;  // SMP record: serve requests CREW deferred (a hold) here
  uint64_t horizon = kNever;       // replay: every record of this hart below it has been read
  std::atomic<uint64_t> published{0};  // hart.instret as of its last run-loop pass (RetiredSoFar)
  bool done = false;
  // A block cut short at `target`: its first instructions and a sentinel.
  std::array<DecodedInsn, BlockCache::kMaxBlockLength + 1> clipped{};
};

Machine::Machine(const MachineOptions& options, replay::World& world, ConsoleInput input, const BootImage& image)
    : options_(options),
      world_(world),
      live_interrupts_(world.DeliversLiveInterrupts()),
      ram_(options.ram_bytes),
      console_out_(options.console),
      console_in_(std::move(input)),
      clint_(options.harts, world, *this, clock_),
      uart_(world, console_out_, console_in_),
      system_device_(options.harts, world),
      finisher_(*this) {
  if (options.harts < 1 || options.harts > kMaxHarts)
    throw std::invalid_argument("the emu machine has 1 to " + std::to_string(kMaxHarts) + " harts, not " +
                                std::to_string(options.harts));
  for (const auto& segment : image.segments) ram_.Write(segment.addr, segment.bytes);

  if (!options.stop_at.empty()) {
    final_counts_ = options.stop_at;
    final_counts_->resize(options.harts, kNever);
  }

  for (uint32_t id = 0; id < options.harts; ++id) {
    auto hart = std::make_unique<Hart>(id, *this);
    hart->pc = image.entry;
    hart->x[10] = id;  // a0 = mhartid; a1 = 0: no device tree, the rrkit device instead
    auto run = std::make_unique<HartRun>(*hart);
    if (final_counts_.has_value()) run->final_count = (*final_counts_)[id];
    harts_.push_back(std::move(hart));
    runs_.push_back(std::move(run));
  }
  if (options.crew_granularity != 0 && options.harts > 1) {
    if (!live_interrupts_) throw std::invalid_argument("CREW records; a replay follows the recorded edges instead");
    // RAM, then one more page for the ordered devices (access_policy.h).
    const uint64_t g = options.crew_granularity;
    crew_device_page_ = (options.ram_bytes + g - 1) / g;
    std::vector<crew::VcpuHooks> hooks;
    for (const auto& hart : harts_) {
      std::atomic<uint32_t>* attention = &hart->attention;
      hooks.push_back({attention, kAttentionCrew, [attention] { FutexWakeAll(*attention); }});
    }
    crew_ = std::make_unique<crew::Crew>(crew::PageGeometry(kRamBase, (crew_device_page_ + 1) * g, g),
                                         std::move(hooks), options.crew_sink, options.crew_hold_instructions);
  }
  if (options.follow_crew_edges && options.harts > 1) {
    gate_ = std::make_unique<crew::ReplayGate>(options.harts, crew::ReplayGate::Options{options.crew_stall_timeout});
  }
  if (live_interrupts_ && options.checkpoint_interval > 0) runs_[0]->cut_count = options.checkpoint_interval;
  // Replay: the log's interrupts, cuts and stop come as the harts read it (RefreshFromLog).
}

Machine::~Machine() = default;

// --- the run ---------------------------------------------------------------------------

RunResult Machine::Run() {
  const auto started = std::chrono::steady_clock::now();
  std::thread timer;
  if (live_interrupts_) timer = std::thread([this] { TimerThread(); });
  std::vector<std::thread> threads;
  for (uint32_t i = 0; i < harts_.size(); ++i) threads.emplace_back([this, i] { HartMain(i); });

  {
    std::unique_lock lock(stop_mutex_);
    auto all_finished = [this] { return harts_finished_ == harts_.size(); };
    if (options_.timeout.count() > 0) {
      if (!stop_cv_.wait_for(lock, options_.timeout, all_finished)) {
        lock.unlock();
        Stop(RunResult::Outcome::kTimeout,
             "the guest did not stop within the timeout of " + std::to_string(options_.timeout.count() / 1000.0) + " s");
        lock.lock();
      }
    }
    stop_cv_.wait(lock, all_finished);
  }
  for (auto& thread : threads) thread.join();
  {
    std::lock_guard lock(timer_mutex_);
    timer_quit_ = true;
  }
  timer_cv_.notify_all();
  if (timer.joinable()) timer.join();
  console_out_.Flush();

  RunResult result;
  result.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  result.outcome = outcome_;
  result.error = error_;
  result.divergence = divergence_;
  if (exit_.has_value()) {
    result.exit_at = exit_->first;
    result.exit_code = exit_->second;
  }
  const replay::Checkpoint final_state = CaptureState();
  StateHasher machine_hash;
  for (const auto& hart : harts_) {
    result.harts.push_back({hart->instret, hart->pc, hart->RegisterHash()});
    machine_hash.Add(hart->RegisterHash());
  }
  result.memory_hash = final_state.memory_hash;
  machine_hash.Add(final_state.memory_hash);
  result.state_hash = machine_hash.Finish();
  if (options_.console == ConsoleOutput::Mode::kCapture) result.console = console_out_.Captured();

  if (result.outcome == RunResult::Outcome::kExited && exit_.has_value()) {
    try {
      world_.MachineStopped(result.exit_at, result.exit_code, final_state, console_out_.Digest());
    } catch (const replay::Divergence& d) {
      result.outcome = RunResult::Outcome::kDiverged;
      result.error = DivergenceMessage(d);
      result.divergence = d;
    } catch (const replay::LogError& e) {
      result.outcome = RunResult::Outcome::kLogDamaged;
      result.error = e.what();
    }
  }
  return result;
}

uint64_t Machine::RetiredSoFar() {
  uint64_t total = 0;
  for (uint32_t i = 0; i < runs_.size(); ++i) {
    total += runs_[i]->published.load(std::memory_order_relaxed);
    // No wake-up: a sleeping hart published its count before it slept.
    harts_[i]->attention.fetch_or(kAttentionPublish, std::memory_order_relaxed);
  }
  return total;
}

void Machine::HartMain(uint32_t index) {
  HartRun& run = *runs_[index];
  try {
    RunHart(run);
  } catch (const replay::Divergence& d) {
    Diverged(d);
  } catch (const crew::ReplayStalled& stalled) {
    // The log's transfer order cannot be followed (an edge missing or altered): the replay
    // did not follow the recording. A stall caused by the machine stopping is no news.
    if (!stopping()) {
      Diverged(replay::Divergence{run.hart.LandmarkAt(run.hart.instret), "transfer order",
                                  "every hart progressing", stalled.what()});
    }
  } catch (const replay::LogError& e) {
    Stop(RunResult::Outcome::kLogDamaged, e.what());
  } catch (const std::exception& e) {
    Stop(RunResult::Outcome::kHostError, "hart " + std::to_string(index) + ": " + e.what());
  }
  // A hart that stopped for good holds its pages no more than a blocked one does.
  if (crew_) crew_->Park(index, run.hart.instret);
  if (gate_) gate_->Finish(index, run.hart.instret);
  std::lock_guard lock(stop_mutex_);
  ++harts_finished_;
  stop_cv_.notify_all();
}

void Machine::RunHart(HartRun& run) {
  Hart& hart = run.hart;
  UpdateTarget(run);
  while (!run.done) {
    run.published.store(hart.instret, std::memory_order_relaxed);
    if (gate_) gate_->Publish(hart.id(), hart.instret);
    if (hart.instret >= run.target) {
      if (!ReachTarget(run)) return;
      continue;
    }
    if (hart.attention.load(std::memory_order_relaxed) != 0) {
      if (!HandleAttention(run, hart.attention.exchange(0, std::memory_order_acq_rel))) return;
      continue;
    }
    if (run.sleeping) {
      Sleep(run);
      continue;
    }
    ExecuteOneBlock(run);
  }
}

void Machine::ExecuteOneBlock(HartRun& run) {
  Hart& hart = run.hart;
  for (;;) {
    if (!ram_.Contains(hart.pc, 4)) {
      if (!hart.TakeException(Exception::kInstructionAccessFault, hart.pc, 0))
        Stop(RunResult::Outcome::kFault, hart.fatal_error());
      return;
    }
    Block& block = hart.blocks.Get(hart.pc, ram_);
    const DecodedInsn* insns = block.insns.data();
    const uint64_t budget = run.target - hart.instret;
    if (budget < block.length) {
      // Stop exactly at the target: run a copy of the block's first `budget` instructions.
      std::copy_n(block.insns.begin(), budget, run.clipped.begin());
      run.clipped[budget] = block.insns.back();
      insns = run.clipped.data();
    }
    switch (Execute(run, block, insns)) {
      case BlockExit::kContinue: return;
      case BlockExit::kFatal: Stop(RunResult::Outcome::kFault, hart.fatal_error()); return;
      case BlockExit::kOwnershipFault:
        // Stopped before the instruction. Once the page is ours, run it at once, before
        // looking at attention: a request that arrived meanwhile must not take the page
        // back before the instruction used it (that would ping-pong without progress).
        // False: the machine is stopping, which the attention word reports next.
        if (!crew_->Acquire(hart.id(), run.ownership_fault.page, run.ownership_fault.write, hart.instret)) return;
        continue;
      case BlockExit::kPause:
        SpinWait(run);
        return;
      case BlockExit::kWfi:
        if (live_interrupts_) {
          run.sleeping = true;
        } else {
          // Replay: the log says whether this wfi ended without an interrupt; if not, the
          // interrupt that ended it is scheduled at this count.
          const uint64_t woke = world_.RareOutcome(hart.LandmarkAt(hart.instret), replay::InputKind::kWfiWake, 0,
                                                   [] { return uint64_t{1}; });
          run.sleeping = woke == 0;
        }
        return;
    }
  }
}

BlockExit Machine::Execute(HartRun& run, Block& block, const DecodedInsn* insns) {
  Hart& hart = run.hart;
  if (crew_) {
    const CrewAccessCheck policy(crew_->Permissions(hart.id()), static_cast<unsigned>(std::countr_zero(options_.crew_granularity)),
                                 ram_.size(), crew_device_page_, run.ownership_fault);
    return ExecuteBlocks(hart, policy, block, insns, run.target);
  }
  if (gate_) return ExecuteBlocks(hart, GatePublish(*gate_, hart.id()), block, insns, run.target);
  return ExecuteBlocks(hart, NoAccessCheck{}, block, insns, run.target);
}

bool Machine::HandleAttention(HartRun& run, uint32_t bits) {
  if ((bits & kAttentionStop) != 0 || stopping()) return false;
  if ((bits & kAttentionCrew) != 0 && crew_) PollCrew(run);
  if ((bits & kAttentionFlushCode) != 0) run.hart.blocks.Clear();
  if ((bits & kAttentionPause) != 0) ArriveAtCut(run);
  if ((bits & kAttentionInterrupt) != 0 && live_interrupts_) EvaluateLiveInterrupts(run);
  return !stopping();
}

// Live and record: take the highest pending interrupt if enabled; wake a sleeping hart
// when any enabled-in-mie interrupt is pending (wfi ignores mstatus.MIE).
void Machine::EvaluateLiveInterrupts(HartRun& run) {
  Hart& hart = run.hart;
  const uint64_t pending = hart.LivePendingInterrupts() & hart.mie;
  if (pending == 0) return;
  const replay::Landmark at = hart.LandmarkAt(hart.instret);
  const bool was_sleeping = run.sleeping;
  run.sleeping = false;
  if ((hart.mstatus & kMstatusMie) != 0) {
    const uint64_t cause = HighestInterrupt(pending);
    world_.InterruptTaken(at, cause);
    hart.TakeInterrupt(cause);
  } else if (was_sleeping) {
    world_.RareOutcome(at, replay::InputKind::kWfiWake, 0, [] { return uint64_t{1}; });
  }
}

void Machine::Sleep(HartRun& run) {
  Hart& hart = run.hart;
  if (!live_interrupts_) {
    // Replay: whatever ended this wfi in the recording (an interrupt, a logged wake-up, the
    // end of the run) is logged at this very count, so it is the hart's target and came
    // first (cuts leave a sleeping hart asleep). Sleeping means the hart is somewhere the
    // recording never was, unless the log is incomplete and simply holds nothing more for
    // it (a hart parked for good after main): that is where its part of the log ends.
    if (run.target == kNever && !FinalCountsKnown()) {  // the log ended, with no stop record
      FinishHart(run);
      return;
    }
    const bool more = run.target != kNever;
    throw replay::Divergence{hart.LandmarkAt(hart.instret), "wfi wake-up",
                             "an interrupt, a logged wake-up or the end of the run at this count",
                             more ? "nothing logged for this hart before instruction " + std::to_string(run.target)
                                  : "nothing more logged for this hart"};
  }
  if ((hart.LivePendingInterrupts() & hart.mie) != 0) {
    EvaluateLiveInterrupts(run);
    return;
  }
  // Until a timer, another hart, a cut or the stop sets this hart's attention. Parked, so
  // that CREW takes this hart's pages without waiting for it (and sets no attention bit).
  const ParkedIfCrew parked(crew_.get(), run.hart);
  FutexWait(hart.attention, 0);
}

// A pause retired: the guest spins, waiting for another hart. What the hart does before its
// next instruction is invisible to the guest, so this only decides who gets the host's
// cores. SMP record: sleep, parked, until CREW takes one of this hart's pages (what it
// spins on in RAM cannot change before that), an attention bit, or kSpinWaitTimeout (for
// spins on the clock or a device). The spinner stops taking cycles from the hart it waits
// for, and that hart takes the spinner's pages without waiting for it to reach a block
// boundary. Plain runs and replay: yield the core.
void Machine::SpinWait(HartRun& run) {
  if (harts_.size() == 1) return;
  if (!crew_) {
    sched_yield();
    return;
  }
  const crew::Crew::Parked parked(*crew_, run.hart.id(), run.hart.instret, crew::ParkReason::kSpinWait);
  FutexWait(run.hart.attention, 0, kSpinWaitTimeout);
}

// SMP record: serve other harts' page requests. CREW defers those for pages this hart
// gained less than options_.crew_hold_instructions ago (the hold keeps two harts writing
// one page from trading it at every write, each trade costing microseconds, or a host
// context switch when harts outnumber cores) and says at which count to come back.
void Machine::PollCrew(HartRun& run) {
  run.crew_poll_at = crew_->Poll(run.hart.id(), run.hart.instret);
  UpdateTarget(run);
}

void Machine::UpdateTarget(HartRun& run) {
  if (!live_interrupts_) RefreshFromLog(run);
  uint64_t target = std::min(run.final_count, run.cut_count);
  target = std::min(target, run.horizon);
  target = std::min(target, run.crew_poll_at);
  if (gate_) target = std::min(target, gate_->NextWaitCount(run.hart.id()));
  if (run.next_interrupt.has_value()) target = std::min(target, run.next_interrupt->count);
  run.target = target;
}

// Replay: what the log has said so far about this hart's next stops. Another hart may have
// read further since this one computed its target; this hart sees it when it reaches that
// target, which is at most its horizon: nothing it needs lies below that.
void Machine::RefreshFromLog(HartRun& run) {
  const uint32_t id = run.hart.id();
  run.horizon = world_.Horizon(id);
  if (!run.next_interrupt.has_value()) run.next_interrupt = world_.ScheduledInterrupt(id);
  if (run.final_count == kNever && FinalCountsKnown()) {
    std::lock_guard lock(stop_mutex_);
    run.final_count = (*final_counts_)[id];
  }
  std::lock_guard lock(cut_mutex_);
  if (!scheduled_cut_.has_value()) {
    scheduled_cut_ = world_.ScheduledCheckpoint();
    if (scheduled_cut_.has_value() && scheduled_cut_->vcpus.size() != harts_.size()) {
      throw std::invalid_argument("a scheduled checkpoint names " + std::to_string(scheduled_cut_->vcpus.size()) +
                                  " harts; the machine has " + std::to_string(harts_.size()));
    }
  }
  run.cut_count = scheduled_cut_.has_value() ? scheduled_cut_->vcpus[id].at.count : kNever;
}

// Whether every hart's final count is known: stop_at, or the replayed log's stop record.
bool Machine::FinalCountsKnown() {
  std::lock_guard lock(stop_mutex_);
  if (final_counts_.has_value()) return true;
  if (live_interrupts_) return false;
  auto counts = world_.FinalLandmarks();
  if (!counts.has_value()) return false;
  counts->resize(harts_.size(), kNever);
  final_counts_ = std::move(counts);
  return true;
}

// The hart is at run.target: join a cut, wait at its replay gate, take a scheduled
// interrupt, stop, or (replay) read on in the log. In that order when they coincide, with one exception: an interrupt
// the recording took before that cut (a hart woken from wfi joins cuts without retiring
// anything, so both can fall on one count; the log's order says which came first). A cut
// comes before the gate because the recorded cut was consistent: every hart reaches its
// cut count without anyone passing theirs, whereas the gate's predecessor may itself be
// paused at the cut below the count this hart waits for.
bool Machine::ReachTarget(HartRun& run) {
  Hart& hart = run.hart;
  const uint64_t now = hart.instret;
  if (now >= run.crew_poll_at) {
    PollCrew(run);
    return true;  // whatever else falls on this count comes next
  }
  const bool interrupt_now = run.next_interrupt.has_value() && now == run.next_interrupt->count;
  if (interrupt_now && now == run.cut_count && run.next_interrupt->checkpoints_before <= CutsCompleted()) {
    TakeScheduledInterrupt(run);
  } else if (now == run.cut_count) {
    if (live_interrupts_) {
      StartCut();
      run.cut_count += options_.checkpoint_interval;
    }
    ArriveAtCut(run);
    if (stopping()) return false;
  } else if (gate_ && now == gate_->NextWaitCount(hart.id())) {
    gate_->WaitAt(hart.id(), now);
  } else if (interrupt_now) {
    TakeScheduledInterrupt(run);
  } else if (now >= run.final_count) {
    FinishHart(run);
    return false;
  } else if (now >= run.horizon) {
    world_.Advance(hart.id(), now);
    if (stopping()) return false;
  } else if (now > run.target) {
    throw std::runtime_error("hart " + std::to_string(hart.id()) + " passed its target count " +
                             std::to_string(run.target) + " (at " + std::to_string(now) + ")");
  }
  UpdateTarget(run);
  return true;
}

// The hart stops for good; the machine stops once every hart has.
void Machine::FinishHart(HartRun& run) {
  run.done = true;
  bool all_done = false;
  {
    std::lock_guard lock(stop_mutex_);
    all_done = std::all_of(runs_.begin(), runs_.end(), [](const auto& r) { return r->done; });
  }
  if (all_done) Stop(exit_.has_value() ? RunResult::Outcome::kExited : RunResult::Outcome::kReachedCounts, "");
}

void Machine::TakeScheduledInterrupt(HartRun& run) {
  Hart& hart = run.hart;
  const uint64_t cause = run.next_interrupt->cause & ~kMcauseInterrupt;
  world_.InterruptTaken(hart.LandmarkAt(hart.instret), cause);
  hart.TakeInterrupt(cause);
  run.sleeping = false;
  run.next_interrupt = world_.ScheduledInterrupt(hart.id());
}

// --- consistent cuts ---------------------------------------------------------------------

uint64_t Machine::CutsCompleted() {
  std::lock_guard lock(cut_mutex_);
  return cut_generation_;
}

// Record/live: hart 0 decided; ask every other hart to pause at its next boundary.
void Machine::StartCut() {
  {
    std::lock_guard lock(cut_mutex_);
    cut_active_ = true;
  }
  for (const auto& hart : harts_)
    if (hart->id() != 0) hart->RaiseAttention(kAttentionPause);
}

void Machine::ArriveAtCut(HartRun& run) {
  const ParkedIfCrew parked(crew_.get(), run.hart);  // before the cut's lock: CREW's lock is never held around it
  std::unique_lock lock(cut_mutex_);
  cut_active_ = true;
  const uint64_t generation = cut_generation_;
  if (++cut_arrived_ < harts_.size()) {
    cut_cv_.wait(lock, [&] { return cut_generation_ != generation || stopping(); });
    lock.unlock();  // UpdateTarget takes it again in replay
    UpdateTarget(run);
    return;
  }
  // Last to arrive: every hart is paused at an instruction boundary.
  try {
    world_.CheckpointTaken(CaptureState());
  } catch (const replay::Divergence& d) {
    lock.unlock();
    Diverged(d);
    lock.lock();
  }
  // Replay: the next cut, if already read (each hart reads it in UpdateTarget).
  if (!live_interrupts_) scheduled_cut_ = world_.ScheduledCheckpoint();
  cut_arrived_ = 0;
  cut_active_ = false;
  ++cut_generation_;
  lock.unlock();
  cut_cv_.notify_all();
  UpdateTarget(run);
}

replay::Checkpoint Machine::CaptureState() {
  replay::Checkpoint checkpoint;
  for (const auto& hart : harts_)
    checkpoint.vcpus.push_back({hart->LandmarkAt(hart->instret), hart->RegisterHash()});
  checkpoint.memory_hash = HashRam(ram_);
  return checkpoint;
}

// --- stop ------------------------------------------------------------------------------

void Machine::Diverged(const replay::Divergence& divergence) {
  {
    std::lock_guard lock(stop_mutex_);
    if (!stopping_.load() && !divergence_) divergence_ = divergence;
  }
  Stop(RunResult::Outcome::kDiverged, DivergenceMessage(divergence));
}

void Machine::Stop(RunResult::Outcome outcome, std::string error) {
  {
    std::lock_guard lock(stop_mutex_);
    if (stopping_.load()) return;
    outcome_ = outcome;
    error_ = std::move(error);
    stopping_.store(true, std::memory_order_release);
  }
  // An abort: harts waiting for more of the log give up. (A guest's exit needs none: a
  // replaying hart reaches its exit only once the log is read past it.)
  if (outcome != RunResult::Outcome::kExited && outcome != RunResult::Outcome::kReachedCounts) world_.Cancel();
  if (crew_) crew_->Stop();   // harts waiting for a page give up
  if (gate_) gate_->Cancel();  // ... and so do harts waiting at their gates
  for (const auto& hart : harts_) hart->RaiseAttention(kAttentionStop);
  { std::lock_guard lock(cut_mutex_); }
  cut_cv_.notify_all();
  { std::lock_guard lock(timer_mutex_); }
  timer_cv_.notify_all();
}

// --- devices -----------------------------------------------------------------------------

bool Machine::MmioLoad(Hart& hart, uint64_t addr, unsigned size, uint64_t count, uint64_t& value) {
  const replay::Landmark at = hart.LandmarkAt(count);
  auto in = [addr](uint64_t base, uint64_t len) { return addr - base < len; };
  if (in(kClintBase, kClintSize)) value = clint_.Read(addr - kClintBase, size, at);
  else if (in(kUartBase, kUartSize)) value = uart_.Read(addr - kUartBase, size, at);
  else if (in(kSystemDeviceBase, kSystemDeviceSize)) value = system_device_.Read(addr - kSystemDeviceBase, size, at);
  else if (in(kTestFinisherBase, kTestFinisherSize)) value = finisher_.Read(addr - kTestFinisherBase, size, at);
  else return false;
  return true;
}

bool Machine::MmioStore(Hart& hart, uint64_t addr, unsigned size, uint64_t value, uint64_t count) {
  const replay::Landmark at = hart.LandmarkAt(count);
  auto in = [addr](uint64_t base, uint64_t len) { return addr - base < len; };
  if (in(kClintBase, kClintSize)) clint_.Write(addr - kClintBase, size, value, at);
  else if (in(kUartBase, kUartSize)) uart_.Write(addr - kUartBase, size, value, at);
  else if (in(kSystemDeviceBase, kSystemDeviceSize)) system_device_.Write(addr - kSystemDeviceBase, size, value, at);
  else if (in(kTestFinisherBase, kTestFinisherSize)) finisher_.Write(addr - kTestFinisherBase, size, value, at);
  else return false;
  return true;
}

void Machine::CodeModified() {
  ram_.ClearCodeMarks();
  for (const auto& hart : harts_) hart->RaiseAttention(kAttentionFlushCode);
}

void Machine::SoftwareInterruptChanged(uint32_t hart) { harts_[hart]->RaiseAttention(kAttentionInterrupt); }

void Machine::TimerCompareChanged(uint32_t hart) {
  {
    std::lock_guard lock(timer_mutex_);
    timer_fired_[hart] = false;
  }
  timer_cv_.notify_all();
  harts_[hart]->RaiseAttention(kAttentionInterrupt);
}

void Machine::ExitRequested(replay::Landmark at, int code) {
  {
    std::lock_guard lock(stop_mutex_);
    if (exit_.has_value()) return;
    exit_ = {at, code};
  }
  // A hart in replay runs to its horizon only once the log is read past its exit, so the
  // stop record, if the log has one, is known by now.
  // Replaying to final landmarks: the other harts still run to theirs.
  if (!FinalCountsKnown()) Stop(RunResult::Outcome::kExited, "");
}

// Raises MTIP (as attention) on each hart whose mtimecmp host time has passed.
void Machine::TimerThread() {
  std::unique_lock lock(timer_mutex_);
  while (!timer_quit_ && !stopping()) {
    auto earliest = MachineClock::Clock::time_point::max();
    const uint64_t now = clock_.Ticks();
    for (uint32_t h = 0; h < harts_.size(); ++h) {
      if (timer_fired_[h]) continue;
      const uint64_t compare = clint_.TimerCompare(h);
      if (now >= compare) {
        timer_fired_[h] = true;
        harts_[h]->RaiseAttention(kAttentionInterrupt);
      } else {
        earliest = std::min(earliest, clock_.TimeOfTicks(compare));
      }
    }
    if (earliest == MachineClock::Clock::time_point::max()) timer_cv_.wait(lock);
    else timer_cv_.wait_until(lock, earliest);
  }
}

}  // namespace rrkit::emu
