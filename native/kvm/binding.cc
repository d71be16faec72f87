// The kvm engine's JavaScript surface (declared in src/native.ts): kvmRun runs an x86_64
// guest ELF on a fresh VM off the JavaScript thread and resolves with the outcome;
// kvmProbe says whether /dev/kvm can be used here, and if not, why. Arguments arrive
// checked and positional (src/engines/kvm.ts validates them).
#include <napi.h>

#include <chrono>
#include <cmath>
#include <condition_variable>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <stdexcept>
#include <thread>

#include "addon/js_args.h"
#include "addon/js_error.h"
#include "addon/registry.h"
#include "addon/run_result_js.h"
#include "addon/wall_samples_js.h"
#include "kvm/board.h"
#include "kvm/crew_recording.h"
#include "kvm/crew_replay.h"
#include "kvm/disk_image.h"
#include "kvm/elf_image.h"
#include "kvm/kvm_system.h"
#include "kvm/long_mode.h"
#include "kvm/machine.h"
#include "replay/chunk_source.h"
#include "replay/session.h"

namespace rrkit::kvm {
namespace {

using addon::BytesOf;
using addon::LogWriterOptionsFrom;
using addon::NumberIn;
using addon::OpenLog;
using addon::ShuffleSeedOf;
using addon::ToU64;

// SMP replay: a stall is reported 3 s after every vCPU stopped advancing while all wait at
// their gates; while one is not waiting (it may be running a long stretch between exits,
// which publish nothing), after a minute.
const crew::ReplayGate::Options kReplayGateOptions{std::chrono::milliseconds(3000), std::chrono::milliseconds(60'000)};

struct RunProgress {
  uint64_t exits;
  double seconds;
  bool live;  // replay then live: gone live
};

struct ProgressRequest {
  Napi::Function callback;
  std::chrono::milliseconds interval;
};

// Everything one run needs kept alive, in destruction order: the machine refers to the
// session's world and to the disk image.
struct RunParts {
  KvmSystem system;
  std::unique_ptr<DiskImage> disk;
  std::unique_ptr<replay::Session> session;
  std::unique_ptr<Machine> machine;
};

class RunWorker final : public Napi::AsyncProgressWorker<RunProgress> {
 public:
  RunWorker(Napi::Env env, std::unique_ptr<RunParts> parts, std::optional<ProgressRequest> progress)
      : Napi::AsyncProgressWorker<RunProgress>(env, "rrkit.kvmRun"),
        deferred_(Napi::Promise::Deferred::New(env)),
        parts_(std::move(parts)) {
    if (progress) {
      on_progress_ = Napi::Persistent(progress->callback);
      progress_interval_ = progress->interval;
    }
  }

  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute(const ExecutionProgress& progress) override {
    try {
      result_ = on_progress_.IsEmpty() ? parts_->machine->Run() : RunSampling(progress);
      if (parts_->session->replaying() != nullptr) replay_report_ = parts_->session->replay_report();
      // Seal the log (and its trailer after a clean stop) before the promise resolves.
      parts_.reset();
    } catch (...) {
      // Turned into a JavaScript error on the JavaScript thread (OnError), keeping its kind.
      error_ = std::current_exception();
      SetError("kvmRun failed");
    }
  }

  void OnOK() override {
    Napi::Env env = Env();
    Napi::Object out = addon::RunResultToJs(env, result_.run, replay_report_ ? &*replay_report_ : nullptr);
    out.Set("interrupts", static_cast<double>(result_.interrupts));
    Napi::Array delays = Napi::Array::New(env, result_.interrupt_delays_ns.size());
    for (uint32_t i = 0; i < result_.interrupt_delays_ns.size(); ++i) delays.Set(i, static_cast<double>(result_.interrupt_delays_ns[i]));
    out.Set("interruptDelaysNs", delays);
    out.Set("dmaBytes", static_cast<double>(result_.dma_bytes));
    out.Set("guestSeconds", result_.guest_seconds);
    out.Set("crewFaults", static_cast<double>(result_.crew_faults));
    deferred_.Resolve(out);
  }

  void OnError(const Napi::Error& error) override {
    deferred_.Reject(error_ ? addon::ErrorToJs(Env(), error_, "kvmRun").Value() : error.Value());
  }

  void OnProgress(const RunProgress* samples, size_t count) override {
    if (samples == nullptr || count == 0 || on_progress_.IsEmpty()) return;
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    Napi::Object sample = Napi::Object::New(env);
    sample.Set("landmarks", Napi::BigInt::New(env, samples[count - 1].exits));
    sample.Set("seconds", samples[count - 1].seconds);
    sample.Set("live", samples[count - 1].live);
    on_progress_.Call({sample});
  }

 private:
  // Runs the machine while a sampler thread sends a progress sample every interval.
  RunResult RunSampling(const ExecutionProgress& progress) {
    std::mutex mutex;
    std::condition_variable ended_cv;
    bool ended = false;
    const auto started = std::chrono::steady_clock::now();
    Machine& machine = *parts_->machine;
    std::thread sampler([&] {
      std::unique_lock lock(mutex);
      while (!ended_cv.wait_for(lock, progress_interval_, [&] { return ended; })) {
        const RunProgress sample{machine.ExitsSoFar(),
                                 std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(),
                                 parts_->session->is_live()};
        progress.Send(&sample, 1);
      }
    });
    auto stop_sampler = [&] {
      {
        std::lock_guard lock(mutex);
        ended = true;
      }
      ended_cv.notify_all();
      sampler.join();
    };
    try {
      RunResult result = machine.Run();
      stop_sampler();
      return result;
    } catch (...) {
      stop_sampler();  // a joinable thread destroyed would end the process
      throw;
    }
  }

  Napi::FunctionReference on_progress_;
  std::chrono::milliseconds progress_interval_{1000};
  Napi::Promise::Deferred deferred_;
  std::unique_ptr<RunParts> parts_;
  RunResult result_;
  std::optional<replay::ReplayReport> replay_report_;  // replay: what was read and checked
  std::exception_ptr error_;  // what Execute threw
};

// session: null (a plain run), { mode: 'record', path, imageHash, imagePath, crewGranularity,
// configJson, deflateLevel?, maxQueuedLogBytes?, wallSampleUs?, ... } (crewHold is emu's) or
// { mode: 'replay', path, followMs, streamFd?, shuffleSeed?, thenRun } (chunks streamed as the replay reaches
// them, from the file or, with streamFd, a pipe, on any number of vCPUs; thenRun: null, or
// { path, maxQueuedLogBytes? } to go on live at the end of the log, recording into `path`
// unless it is empty). Recording with wall-clock
// samples also sets options.host_time_*.
std::unique_ptr<replay::Session> MakeSession(const Napi::Value& value, MachineOptions& options) {
  if (value.IsNull() || value.IsUndefined()) return replay::Session::Live();
  const Napi::Object session = value.As<Napi::Object>();
  const std::string mode = session.Get("mode").As<Napi::String>();
  const std::string path = session.Get("path").As<Napi::String>();
  if (mode == "replay") {
    const Napi::Value follow = session.Get("followMs");
    const Napi::Value stream_fd = session.Get("streamFd");
    auto reader = OpenLog(path, follow.IsNumber() ? follow.As<Napi::Number>().DoubleValue() : -1,
                          stream_fd.IsNumber() ? static_cast<int>(NumberIn(stream_fd, "session.streamFd", 0, INT32_MAX)) : -1);
    replay::ReplayingWorld::Options replaying;
    replaying.replays_dma_writes = true;  // the board's disk
    replaying.landmarks_count_instructions = false;  // exits
    replaying.cuts_void_records_at_their_landmarks = options.vcpus > 1;  // where a replay went live (GoLiveTogether)
    options.shuffle_seed = ShuffleSeedOf(session.Get("shuffleSeed"), "session.shuffleSeed");
    const Napi::Value then_run = session.Get("thenRun");
    if (then_run.IsNull() || then_run.IsUndefined()) return replay::Session::Replay(std::move(reader), replaying);
    if (!then_run.IsObject() || !then_run.As<Napi::Object>().Get("path").IsString())
      throw std::invalid_argument("session.thenRun must be null or { path: string }");
    return replay::Session::ReplayThenLive(std::move(reader), replaying, then_run.As<Napi::Object>().Get("path").As<Napi::String>(),
                                           LogWriterOptionsFrom(then_run.As<Napi::Object>()));
  }
  if (mode != "record") throw std::invalid_argument("session.mode must be 'record' or 'replay'");
  replay::LogHeader header;
  header.engine = "kvm";
  header.image_hash = BytesOf(session.Get("imageHash"), "session.imageHash");
  header.image_path = session.Get("imagePath").As<Napi::String>();
  header.vcpus = options.vcpus;
  header.ram_mib = static_cast<uint32_t>(options.ram_bytes >> 20);
  header.crew_granularity = options.vcpus > 1 ? session.Get("crewGranularity").As<Napi::Number>().Uint32Value() : 0;
  header.checkpoint_interval = options.checkpoint_interval;
  header.start_unix_ms = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
  header.config_json = session.Get("configJson").As<Napi::String>();
  auto recording = replay::Session::Record(path, header, LogWriterOptionsFrom(session));
  // Wall-clock samples for the timeline, every `wallSampleUs` of a running hart (absent or 0: none).
  if (std::optional<addon::WallSamples> samples = addon::WallSamplesFrom(session, *recording)) {
    options.host_time_sink = std::move(samples->sink);
    options.host_time_period = samples->period;
  }
  return recording;
}

std::optional<ProgressRequest> ProgressOf(const Napi::Value& value) {
  if (value.IsNull() || value.IsUndefined()) return std::nullopt;
  const Napi::Object progress = value.As<Napi::Object>();
  const double interval = progress.Get("intervalMs").As<Napi::Number>().DoubleValue();
  if (!std::isfinite(interval) || interval < 10 || interval > 3'600'000) {
    throw std::invalid_argument("progress.intervalMs must be from 10 to 3600000");
  }
  if (!progress.Get("callback").IsFunction()) throw std::invalid_argument("progress.callback must be a function");
  return ProgressRequest{progress.Get("callback").As<Napi::Function>(), std::chrono::milliseconds(static_cast<int64_t>(interval))};
}

// SMP recording: CREW over each vCPU's host mapping, every edge and stop into `writer`.
LiveOrderingFactory RecordingOrdering(replay::LogWriter* writer, const MachineOptions& options, const ElfImage& image) {
  const uint64_t granularity = writer->header().crew_granularity;
  if (granularity < kPageBytes || granularity > kImageBase)
    throw std::invalid_argument("the kvm engine's CREW pages are 4 KiB to 1 MiB (what the host can protect), not " +
                                std::to_string(granularity) + " bytes");
  const CrewLayout layout{options.vcpus, options.ram_bytes, granularity, kImageBase, image.writable_start, image.hart_areas, kHartAreaBytes};
  return [writer, layout](const std::vector<PageProtector*>& protectors) {
    // Edges arrive under CREW's lock; Append takes only the writer's lock, which nothing
    // holds while calling into CREW.
    return std::make_unique<CrewRecording>(
        layout, protectors,
        [writer](const crew::TransferEdge& e) {
          writer->Append(replay::CrewTransferRecord{e.page, {e.from_vcpu, e.from_count}, {e.to_vcpu, e.to_count}});
        },
        [writer](const replay::CrewFaultRecord& f) { writer->Append(f); });
  };
}

struct Orderings {
  OrderingFactory ordering;
  LiveOrderingFactory live;  // replay then live, recording on: CREW from the cut
};

// SMP: recording several vCPUs runs CREW over host page protection and logs each transfer
// and each fault; replaying them follows the log (docs/kvm-smp.md); a replay that goes live
// and records on does the one, then the other. Nothing for one vCPU or a plain run.
Orderings OrderingFor(replay::Session& session, MachineOptions& options, const ElfImage& image) {
  if (options.vcpus < 2) return {};
  replay::LogWriter* writer = session.writer();
  replay::ReplayingWorld* replaying = session.replaying();
  if (replaying == nullptr) {
    if (writer == nullptr) return {};
    options.crew_granularity = writer->header().crew_granularity;
    LiveOrderingFactory recording = RecordingOrdering(writer, options, image);
    return {[recording](const std::vector<PageProtector*>& protectors, const ElfImage&) { return recording(protectors); }, {}};
  }
  if (replaying->header().vcpus != options.vcpus) {
    throw std::invalid_argument("the log was recorded with " + std::to_string(replaying->header().vcpus) + " vCPUs, not " +
                                std::to_string(options.vcpus));
  }
  const uint64_t granularity = replaying->header().crew_granularity;
  if (granularity < kPageBytes || granularity > kImageBase)
    throw std::invalid_argument("the log's CREW granularity (" + std::to_string(granularity) + " bytes) is not one the kvm engine records");
  options.crew_granularity = granularity;
  // Edges, faults and cuts go to the replay's CREW follower as the log is read (the machine
  // reads each vCPU's log one landmark ahead of it: Machine::ReadAhead). The follower lives
  // in the machine, which outlives every read of the log.
  const MachineOptions o = options;
  OrderingFactory following = [replaying, granularity, o](const std::vector<PageProtector*>& protectors, const ElfImage&) {
    auto ordering = std::make_unique<CrewReplay>(o.vcpus, crew::PageGeometry(0, o.ram_bytes + granularity, granularity), protectors,
                                                 kReplayGateOptions, o.shuffle_seed);
    CrewReplay* follower = ordering.get();
    replaying->FollowTransfers({[follower](const replay::CrewTransferRecord& r) { follower->AddEdge(r); },
                                [follower] { return follower->Pending(); },
                                [follower](const replay::CrewFaultRecord& r) { follower->AddFault(r); },
                                [follower, n = o.vcpus](const replay::Checkpoint& cut) {
                                  std::vector<uint64_t> at(n, replay::kNever);
                                  for (const replay::Checkpoint::Vcpu& v : cut.vcpus) {
                                    if (v.at.vcpu < n) at[v.at.vcpu] = v.at.count;
                                  }
                                  follower->Cut(at);
                                }});
    return ordering;
  };
  return {std::move(following), writer != nullptr ? RecordingOrdering(writer, options, image) : LiveOrderingFactory{}};
}

machine::ConsoleInput InputOf(const Napi::Value& value) {
  if (value.IsBuffer()) {
    const auto bytes = value.As<Napi::Buffer<uint8_t>>();
    return machine::ConsoleInput::FromBytes(std::vector<uint8_t>(bytes.Data(), bytes.Data() + bytes.Length()));
  }
  if (value.IsNumber()) return machine::ConsoleInput::FromFd(static_cast<int>(NumberIn(value, "input", 0, INT32_MAX)));
  if (!value.IsNull() && !value.IsUndefined()) throw std::invalid_argument("input must be a Buffer, a file descriptor or null");
  return machine::ConsoleInput::None();
}

// kvmRun(image, imageName, vcpus, ramBytes, timeoutMs, checkpointInterval, input, capture, session, progress, disk)
// disk: null, or { path: string | null, sectors: number, shared: boolean } (path null: a
// replay that takes the disk's bytes from the log).
// Arguments are checked here too (TypeScript checks them first): a bad one is a TypeError or
// RangeError, never a crash.
Napi::Value KvmRun(const Napi::CallbackInfo& info) {
  return addon::Guarded(info.Env(), "kvmRun", [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    if (info.Length() != 11) throw Napi::TypeError::New(env, "kvmRun takes 11 arguments");
    if (!info[0].IsBuffer()) throw std::invalid_argument("image must be a Buffer");
    const auto image = info[0].As<Napi::Buffer<uint8_t>>();
    if (!info[1].IsString()) throw std::invalid_argument("imageName must be a string");
    const std::string name = info[1].As<Napi::String>();
    MachineOptions options;
    options.vcpus = static_cast<uint32_t>(NumberIn(info[2], "vcpus", 1, 64));
    options.ram_bytes = static_cast<uint64_t>(NumberIn(info[3], "ramBytes", 2 << 20, 4096.0 * (1 << 20)));
    options.timeout = std::chrono::milliseconds(static_cast<int64_t>(NumberIn(info[4], "timeoutMs", 0, 1e15)));
    options.checkpoint_interval = ToU64(info[5], "checkpointInterval");
    // capture: true, false, or "tagged" (a replica's engine: framed output carrying log positions)
    const bool tagged = info[7].IsString() && info[7].As<Napi::String>().Utf8Value() == "tagged";
    if (!tagged && !info[7].IsBoolean()) throw std::invalid_argument("capture must be a boolean or 'tagged'");
    options.console = tagged                                ? machine::ConsoleOutput::Mode::kTagged
                      : info[7].As<Napi::Boolean>().Value() ? machine::ConsoleOutput::Mode::kCapture
                                                            : machine::ConsoleOutput::Mode::kStdout;
    if (!info[8].IsNull() && !info[8].IsUndefined() && !info[8].IsObject()) throw std::invalid_argument("session must be an object or null");
    if (!info[9].IsNull() && !info[9].IsUndefined() && !info[9].IsObject()) throw std::invalid_argument("progress must be an object or null");
    if (!info[10].IsNull() && !info[10].IsUndefined() && !info[10].IsObject()) throw std::invalid_argument("disk must be an object or null");
    options.track_memory = !info[8].IsNull() && !info[8].IsUndefined();

    auto parts = std::unique_ptr<RunParts>(new RunParts{KvmSystem::Open(), nullptr, nullptr, nullptr});
    const ElfImage elf = LoadX86Elf(std::span<const uint8_t>(image.Data(), image.Length()), name, options.ram_bytes);
    if (info[10].IsObject()) {
      const Napi::Object disk = info[10].As<Napi::Object>();
      const Napi::Value path = disk.Get("path");
      if (path.IsString()) parts->disk = std::make_unique<DiskImage>(path.As<Napi::String>().Utf8Value());
      else if (!path.IsNull() && !path.IsUndefined()) throw std::invalid_argument("disk.path must be a string or null");
      options.disk_sectors = static_cast<uint64_t>(NumberIn(disk.Get("sectors"), "disk.sectors", 0, 9'007'199'254'740'991.0));
      options.disk_shared = disk.Get("shared").ToBoolean().Value();
    }
    parts->session = MakeSession(info[8], options);
    Orderings orderings = OrderingFor(*parts->session, options, elf);
    parts->machine = std::make_unique<Machine>(parts->system, options, parts->session->world(), InputOf(info[6]), elf,
                                               parts->disk.get(), orderings.ordering, std::move(orderings.live));
    // Tagged console: each flush carries the log's record count once the open chunk is sealed
    // (the recording's log, or the next log of a replay going live); 0 with no log written.
    if (tagged) {
      if (replay::LogWriter* writer = parts->session->writer()) parts->machine->console().SetTag([writer] { return writer->SealAndCount(); });
    }
    auto* worker = new RunWorker(env, std::move(parts), ProgressOf(info[9]));
    Napi::Promise promise = worker->Promise();
    worker->Queue();
    return promise;
  });
}

// kvmProbe's body: never throws for a missing or unusable /dev/kvm (it says why).
Napi::Value Probe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string path = info.Length() > 0 && info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "/dev/kvm";
  Napi::Object out = Napi::Object::New(env);
  try {
    const KvmSystem system = KvmSystem::Open(path);
    out.Set("available", true);
    out.Set("reason", "");
    out.Set("syncRegs", system.Extension(KVM_CAP_SYNC_REGS) > 0);
  } catch (const std::exception& e) {
    out.Set("available", false);
    out.Set("reason", e.what());
    out.Set("syncRegs", false);
  }
  return out;
}

// kvmProbe(path) -> { available, reason, syncRegs }
Napi::Value KvmProbe(const Napi::CallbackInfo& info) {
  return addon::Guarded(info.Env(), "kvmProbe", [&]() -> Napi::Value { return Probe(info); });
}

void Export(Napi::Env env, Napi::Object exports) {
  exports.Set("kvmRun", Napi::Function::New(env, KvmRun, "kvmRun"));
  exports.Set("kvmProbe", Napi::Function::New(env, KvmProbe, "kvmProbe"));
}

const addon::ExportRegistrar kRegistrar("kvm", Export);

}  // namespace
}  // namespace rrkit::kvm
