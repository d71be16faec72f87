// The emu engine's JavaScript surface (declared in src/native.ts): emuRun runs a guest
// ELF on a fresh machine off the JavaScript thread and resolves with the outcome.
// Arguments arrive checked and positional (src/engines/emu.ts validates them).
#include <napi.h>

#include <chrono>
#include <cmath>
#include <condition_variable>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "addon/js_args.h"
#include "addon/js_error.h"
#include "addon/registry.h"
#include "addon/run_result_js.h"
#include "addon/wall_samples_js.h"
#include "emu/elf_loader.h"
#include "emu/machine.h"
#include "replay/chunk_source.h"
#include "replay/log_error.h"
#include "replay/session.h"

namespace rrkit::emu {
namespace {

using addon::BytesOf;
using addon::LogWriterOptionsFrom;
using addon::NumberIn;
using addon::OpenLog;
using addon::ShuffleSeedOf;
using addon::ToU64;

// The machine this process runs now, for emuRequestStateImage (a replica's engine runs one
// machine at a time): registered before its run starts, unregistered as soon as it ends.
struct RunningMachine {
  Machine* machine = nullptr;
  replay::LogWriter* writer = nullptr;  // the log it writes, if any
  std::vector<uint8_t> image_sha256;
};
std::mutex g_running_mutex;
RunningMachine g_running;

void Unregister(const Machine* machine) {
  std::lock_guard lock(g_running_mutex);
  if (g_running.machine == machine) g_running = RunningMachine{};
}

// A sample of a run in progress, sent to the JavaScript thread.
struct RunProgress {
  uint64_t landmarks;  // emu: instructions retired by all harts
  double seconds;
  bool live;  // replay then live: gone live
};

// What emuRun's `progress` argument asks for: a callback and how often to call it.
struct ProgressRequest {
  Napi::Function callback;
  std::chrono::milliseconds interval;
};

class RunWorker final : public Napi::AsyncProgressWorker<RunProgress> {
 public:
  RunWorker(Napi::Env env, std::unique_ptr<replay::Session> session, std::unique_ptr<Machine> machine,
            std::optional<ProgressRequest> progress)
      : Napi::AsyncProgressWorker<RunProgress>(env, "rrkit.emuRun"),
        deferred_(Napi::Promise::Deferred::New(env)),
        session_(std::move(session)),
        machine_(std::move(machine)) {
    if (progress) {
      on_progress_ = Napi::Persistent(progress->callback);
      progress_interval_ = progress->interval;
    }
  }

  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute(const ExecutionProgress& progress) override {
    try {
      try {
        result_ = on_progress_.IsEmpty() ? machine_->RunUntilStopped() : RunSampling(progress);
      } catch (...) {
        Unregister(machine_.get());
        throw;
      }
      Unregister(machine_.get());
      if (session_->replaying() != nullptr) replay_report_ = session_->replay_report();
      // Seal and flush the log (and its trailer, when the machine stopped cleanly) before
      // the promise resolves, so that the caller can read it at once.
      machine_.reset();
      session_.reset();
    } catch (...) {
      // Turned into a JavaScript error on the JavaScript thread (OnError), keeping its kind.
      error_ = std::current_exception();
      SetError("emuRun failed");
    }
  }

  void OnOK() override {
    deferred_.Resolve(addon::RunResultToJs(Env(), result_, replay_report_ ? &*replay_report_ : nullptr));
  }

  void OnError(const Napi::Error& error) override {
    deferred_.Reject(error_ ? addon::ErrorToJs(Env(), error_, "emuRun").Value() : error.Value());
  }

  void OnProgress(const RunProgress* samples, size_t count) override {
    if (samples == nullptr || count == 0 || on_progress_.IsEmpty()) return;
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    Napi::Object sample = Napi::Object::New(env);
    sample.Set("landmarks", Napi::BigInt::New(env, samples[count - 1].landmarks));
    sample.Set("seconds", samples[count - 1].seconds);
    sample.Set("live", samples[count - 1].live);
    on_progress_.Call({sample});
  }

 private:
  // Runs the machine on this thread while a sampler thread sends a progress sample every
  // interval (never after the run has ended).
  machine::RunResult RunSampling(const ExecutionProgress& progress) {
    std::mutex mutex;
    std::condition_variable ended_cv;
    bool ended = false;
    const auto started = std::chrono::steady_clock::now();
    std::thread sampler([&] {
      std::unique_lock lock(mutex);
      while (!ended_cv.wait_for(lock, progress_interval_, [&] { return ended; })) {
        const RunProgress sample{machine_->RetiredSoFar(),
                                 std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(),
                                 session_->is_live()};
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
      machine::RunResult result = machine_->RunUntilStopped();
      stop_sampler();
      return result;
    } catch (...) {
      stop_sampler();
      throw;
    }
  }

  Napi::FunctionReference on_progress_;
  std::chrono::milliseconds progress_interval_{1000};
  Napi::Promise::Deferred deferred_;
  std::unique_ptr<replay::Session> session_;  // outlives machine_, which refers to its world
  std::unique_ptr<Machine> machine_;
  machine::RunResult result_;
  std::optional<replay::ReplayReport> replay_report_;  // replay: what was read and checked
  std::exception_ptr error_;  // what Execute threw
};

// The most host threads a schedule may ask for (MAX_THREADS in src/engines/emu.ts).
constexpr double kMaxThreads = 1024;

// A non-negative safe integer property of a JavaScript object.
uint64_t SafeInteger(const Napi::Object& o, const char* key) {
  return static_cast<uint64_t>(NumberIn(o.Get(key), key, 0, 9'007'199'254'740'991.0));
}

// session.serialize: { enterPerMillion, window, quantum, probe, idleTurns, sharePages } (src/smp/serial-options.ts).
crew::SerializerOptions SerializerOptionsOf(const Napi::Value& value) {
  if (!value.IsObject()) throw std::invalid_argument("session.serialize must be an object");
  const Napi::Object o = value.As<Napi::Object>();
  crew::SerializerOptions s;
  s.enter_transfers_per_million = SafeInteger(o, "enterPerMillion");
  s.window = SafeInteger(o, "window");
  s.quantum = SafeInteger(o, "quantum");
  s.probe = SafeInteger(o, "probe");
  s.idle_turns = SafeInteger(o, "idleTurns");
  const Napi::Value share = o.Get("sharePages");  // absent: the default
  if (!share.IsUndefined() && !share.IsBoolean()) throw std::invalid_argument("session.serialize.sharePages must be a boolean");
  if (share.IsBoolean()) s.share_pages = share.As<Napi::Boolean>().Value();
  return s;
}

// schedule: { threads, sliceInstructions, spinDetection, shuffleSeed } (timing only;
// src/engines/emu.ts checks and defaults them; threads 0: the host's cores; shuffleSeed 0:
// no shuffle).
void ReadSchedule(const Napi::Value& value, MachineOptions& options) {
  if (!value.IsObject()) throw std::invalid_argument("schedule must be an object");
  const Napi::Object schedule = value.As<Napi::Object>();
  options.threads = static_cast<uint32_t>(NumberIn(schedule.Get("threads"), "schedule.threads", 0, kMaxThreads));
  const double slice = NumberIn(schedule.Get("sliceInstructions"), "schedule.sliceInstructions", 1, 1e12);
  if (slice != static_cast<double>(static_cast<uint64_t>(slice))) throw std::invalid_argument("schedule.sliceInstructions must be an integer");
  options.slice_instructions = static_cast<uint64_t>(slice);
  const Napi::Value spin = schedule.Get("spinDetection");
  if (!spin.IsBoolean()) throw std::invalid_argument("schedule.spinDetection must be a boolean");
  options.spin_detection = spin.As<Napi::Boolean>().Value();
  options.shuffle_seed = ShuffleSeedOf(schedule.Get("shuffleSeed"), "schedule.shuffleSeed");
}

// A replay's state images (emu/state_image.h): session.resumeFrom, the image it starts
// from (read and checked before the machine is built), and session.saveImage, where to
// write one.
struct ImagePlan {
  std::optional<StateImage> resume;
  std::optional<std::string> save_path;
  uint64_t save_from_ordinal = 0;
  std::vector<uint8_t> image_sha256;
};

// session.resumeFrom: a path or absent; session.saveImage: { path, fromCheckpoint } or
// absent; session.imageHash (the guest's SHA-256) when either is given.
ImagePlan ImagePlanOf(const Napi::Object& session, const MachineOptions& options) {
  ImagePlan plan;
  const Napi::Value resume = session.Get("resumeFrom");
  const Napi::Value save = session.Get("saveImage");
  const bool resuming = !resume.IsUndefined() && !resume.IsNull();
  const bool saving = !save.IsUndefined() && !save.IsNull();
  if (!resuming && !saving) return plan;
  plan.image_sha256 = BytesOf(session.Get("imageHash"), "session.imageHash");
  if (resuming) {
    if (!resume.IsString()) throw std::invalid_argument("session.resumeFrom must be a path");
    const std::string path = resume.As<Napi::String>();
    StateImage image = DecodeStateImage(ReadStateImageFile(path), path);
    CheckStateImageFits(image, plan.image_sha256, options.harts, options.ram_bytes, path);
    plan.resume = std::move(image);
  }
  if (saving) {
    if (!save.IsObject()) throw std::invalid_argument("session.saveImage must be an object");
    const Napi::Object o = save.As<Napi::Object>();
    if (!o.Get("path").IsString()) throw std::invalid_argument("session.saveImage.path must be a path");
    plan.save_path = o.Get("path").As<Napi::String>().Utf8Value();
    plan.save_from_ordinal = SafeInteger(o, "fromCheckpoint");
  }
  return plan;
}

// session: null (a plain run), { mode: 'record', path, imageHash, imagePath, crewGranularity,
// crewHold, serialize, configJson, deflateLevel?, maxQueuedLogBytes?, wallSampleUs? } or
// { mode: 'replay', path, followMs, thenRun, imageHash?, resumeFrom?, saveImage? } (thenRun:
// null, or { path, crewHold, serialize?, maxQueuedLogBytes? } to go on live at the end of the
// log, recording into `path` unless it is empty, in serialized mode as `serialize` says:
// absent, never; resumeFrom and saveImage: ImagePlanOf). Recording, and a replay going on
// live, also set options.crew_hold_instructions and options.serializer (TypeScript owns
// their defaults).
std::unique_ptr<replay::Session> MakeSession(const Napi::Value& value, MachineOptions& options, const ImagePlan& plan) {
  if (value.IsNull() || value.IsUndefined()) return replay::Session::Live();
  const Napi::Object session = value.As<Napi::Object>();
  const std::string mode = session.Get("mode").As<Napi::String>();
  const std::string path = session.Get("path").As<Napi::String>();
  // The emu board has no device that writes guest memory: a log holding DMA writes is
  // refused where the replay reads one (ReplayingWorld::Options).
  if (mode == "replay") {
    const Napi::Value follow = session.Get("followMs");
    const Napi::Value stream_fd = session.Get("streamFd");
    auto reader = OpenLog(path, follow.IsNumber() ? follow.As<Napi::Number>().DoubleValue() : -1,
                          stream_fd.IsNumber() ? static_cast<int>(NumberIn(stream_fd, "session.streamFd", 0, INT32_MAX)) : -1);
    // A stream that holds the header, then the chunks from streamStart.chunk on (a backup
    // that rejoined from a state image).
    const Napi::Value start = session.Get("streamStart");
    if (start.IsObject()) {
      const Napi::Object s = start.As<Napi::Object>();
      reader->StartAt(static_cast<uint32_t>(NumberIn(s.Get("chunk"), "session.streamStart.chunk", 0, UINT32_MAX)),
                      SafeInteger(s, "records"));
    }
    replay::ReplayingWorld::Options world_options;
    if (plan.resume) world_options.resume_after = plan.resume->checkpoint;
    const Napi::Value then_run = session.Get("thenRun");
    if (then_run.IsNull() || then_run.IsUndefined()) return replay::Session::Replay(std::move(reader), world_options);
    if (!then_run.IsObject()) throw std::invalid_argument("session.thenRun must be an object or null");
    const Napi::Object live = then_run.As<Napi::Object>();
    const std::string next = live.Get("path").As<Napi::String>();
    options.crew_hold_instructions = static_cast<uint64_t>(live.Get("crewHold").As<Napi::Number>().DoubleValue());
    // The live part serializes as the recording did (the groups the log left open end at
    // the switch: Machine::GoLive), or never when the caller says nothing.
    const Napi::Value serialize = live.Get("serialize");
    if (serialize.IsUndefined() || serialize.IsNull()) {
      options.serializer.enter_transfers_per_million = 0;
    } else {
      options.serializer = SerializerOptionsOf(serialize);
    }
    return replay::Session::ReplayThenLive(std::move(reader), world_options, next, LogWriterOptionsFrom(live));
  }
  if (mode != "record") throw std::invalid_argument("session.mode must be 'record' or 'replay'");
  replay::LogHeader header;
  header.engine = "emu";
  header.image_hash = BytesOf(session.Get("imageHash"), "session.imageHash");
  header.image_path = session.Get("imagePath").As<Napi::String>();
  header.vcpus = options.harts;
  header.ram_mib = static_cast<uint32_t>(options.ram_bytes >> 20);
  header.crew_granularity = session.Get("crewGranularity").As<Napi::Number>().Uint32Value();
  header.checkpoint_interval = options.checkpoint_interval;
  header.start_unix_ms = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
  header.config_json = session.Get("configJson").As<Napi::String>();
  const double hold = session.Get("crewHold").As<Napi::Number>().DoubleValue();
  if (!(hold >= 0 && hold <= 9'007'199'254'740'991.0)) {
    throw std::invalid_argument("session.crewHold must be a non-negative safe integer");
  }
  options.crew_hold_instructions = static_cast<uint64_t>(hold);
  options.serializer = SerializerOptionsOf(session.Get("serialize"));
  auto recording = replay::Session::Record(path, header, LogWriterOptionsFrom(session));
  // Wall-clock samples for the timeline, every `wallSampleUs` of a running hart (absent or 0: none).
  if (std::optional<addon::WallSamples> samples = addon::WallSamplesFrom(session, *recording)) {
    options.host_time_sink = std::move(samples->sink);
    options.host_time_period = samples->period;
  }
  return recording;
}

// SMP: recording several harts tracks page ownership (CREW) and logs each transfer;
// replaying them follows the logged transfers; a replay going live and recording on does
// the one, then the other.
void ConnectCrew(replay::Session& session, MachineOptions& options) {
  if (options.harts < 2) return;
  if (replay::ReplayingWorld* replaying = session.replaying()) {
    if (replaying->header().vcpus != options.harts) {
      throw replay::UnreplayableLog("the log was recorded with " + std::to_string(replaying->header().vcpus) +
                                    " harts, not " + std::to_string(options.harts));
    }
    options.follow_crew_edges = true;
  }
  if (replay::LogWriter* writer = session.writer()) {
    options.crew_granularity = writer->header().crew_granularity;
    if (options.crew_granularity == 0) throw std::invalid_argument("recording several harts needs a CREW granularity");
    // Called under CREW's lock; Append takes only the writer's own lock, which nothing
    // holds while calling into CREW, so the two locks are always taken in this order.
    options.crew_sink = [writer](const crew::TransferEdge& e) {
      writer->Append(replay::CrewTransferRecord{e.page, {e.from_vcpu, e.from_count}, {e.to_vcpu, e.to_count}});
    };
    // Under the serializer's lock (and sometimes CREW's): the same lock order as above.
    options.serial_sink = [writer](const crew::SerialRecord& r) {
      if (const auto* m = std::get_if<crew::ModeSwitch>(&r)) {
        writer->Append(replay::ModeSwitchRecord{{m->vcpu, m->count}, m->group, m->serialized});
      } else {
        const auto& t = std::get<crew::TurnSwitch>(r);
        writer->Append(replay::TurnSwitchRecord{{t.vcpu, t.count}, t.next});
      }
    };
  }
}

// SMP replay: the edges the world reads go to the machine's gate, as it reads them.
void FollowCrew(replay::Session& session, Machine& machine) {
  replay::ReplayingWorld* replaying = session.replaying();
  crew::ReplayGate* gate = machine.replay_gate();
  crew::TurnFollower* follower = machine.turn_follower();
  if (replaying == nullptr || gate == nullptr) return;
  replaying->FollowTransfers({[gate](const replay::CrewTransferRecord& r) {
                                gate->AddEdge({r.page, r.from.vcpu, r.from.count, r.to.vcpu, r.to.count});
                              },
                              [gate] { return gate->Pending(); }});
  // Serialized mode: each mode and turn switch as it is read, checked against those before
  // it (crew::InvalidSerialLog). Replay then live follows them to the end of the log, where
  // every group leaves serialized mode (Machine::GoLive).
  replaying->FollowSerialRecords(
      {[follower](const replay::ReplayingWorld::SerialModeRecord& logged) {
         crew::SerialRecord record;
         if (const auto* m = std::get_if<replay::ModeSwitchRecord>(&logged.record)) {
           record = crew::ModeSwitch{m->at.vcpu, m->at.count, m->group, m->serialized};
         } else {
           const auto& t = std::get<replay::TurnSwitchRecord>(logged.record);
           record = crew::TurnSwitch{t.at.vcpu, t.at.count, t.next};
         }
         follower->Add({record, logged.checkpoints_before});
       },
       [follower] { return follower->Pending(); }});
}

// Tagged console: each flush carries the log's record count once the open chunk is sealed
// (a recording's log, or the next log of a replay going live); 0 with no log written.
void TagConsole(replay::Session& session, Machine& machine) {
  replay::LogWriter* writer = session.writer();
  if (writer == nullptr) return;
  machine.board().console().SetTag([writer] { return writer->SealAndCount(); });
}

// progress: null, or { callback, intervalMs }.
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

// emuRun(image, imageName, harts, ramBytes, timeoutMs, checkpointInterval, stopAt, input, capture, session, progress, schedule)
// Arguments are checked here too (TypeScript checks them first): a bad one is a TypeError or
// RangeError, never a crash.
Napi::Value EmuRun(const Napi::CallbackInfo& info) {
  return addon::Guarded(info.Env(), "emuRun", [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    if (info.Length() != 12) throw Napi::TypeError::New(env, "emuRun takes 12 arguments");
    if (!info[0].IsBuffer()) throw std::invalid_argument("image must be a Buffer");
    const auto image = info[0].As<Napi::Buffer<uint8_t>>();
    if (!info[1].IsString()) throw std::invalid_argument("imageName must be a string");
    const std::string name = info[1].As<Napi::String>();
    MachineOptions options;
    options.harts = static_cast<uint32_t>(NumberIn(info[2], "harts", 1, kMaxHarts));
    options.ram_bytes = static_cast<uint64_t>(NumberIn(info[3], "ramBytes", 1 << 20, 4096.0 * (1 << 20)));
    options.timeout = std::chrono::milliseconds(static_cast<int64_t>(NumberIn(info[4], "timeoutMs", 0, 1e15)));
    options.checkpoint_interval = ToU64(info[5], "checkpointInterval");
    if (!info[6].IsArray()) throw std::invalid_argument("stopAt must be an array");
    const auto stop_at = info[6].As<Napi::Array>();
    for (uint32_t i = 0; i < stop_at.Length(); ++i) options.stop_at.push_back(ToU64(stop_at.Get(i), "stopAt[i]"));
    // capture: true, false, or "tagged" (a replica's engine: framed output carrying log positions)
    const bool tagged = info[8].IsString() && info[8].As<Napi::String>().Utf8Value() == "tagged";
    if (!tagged && !info[8].IsBoolean()) throw std::invalid_argument("capture must be a boolean or 'tagged'");
    options.console = tagged                             ? machine::ConsoleOutput::Mode::kTagged
                      : info[8].As<Napi::Boolean>().Value() ? machine::ConsoleOutput::Mode::kCapture
                                                            : machine::ConsoleOutput::Mode::kStdout;
    ReadSchedule(info[11], options);

    auto make_input = [&] {
      if (info[7].IsBuffer()) {
        const auto bytes = info[7].As<Napi::Buffer<uint8_t>>();
        return machine::ConsoleInput::FromBytes(std::vector<uint8_t>(bytes.Data(), bytes.Data() + bytes.Length()));
      }
      if (info[7].IsNumber()) return machine::ConsoleInput::FromFd(static_cast<int>(NumberIn(info[7], "input", 0, INT32_MAX)));
      if (!info[7].IsNull() && !info[7].IsUndefined()) throw std::invalid_argument("input must be a Buffer, a file descriptor or null");
      return machine::ConsoleInput::None();
    };
    if (!info[9].IsNull() && !info[9].IsUndefined() && !info[9].IsObject()) throw std::invalid_argument("session must be an object or null");
    if (!info[10].IsNull() && !info[10].IsUndefined() && !info[10].IsObject()) throw std::invalid_argument("progress must be an object or null");

    const BootImage boot = LoadElf(std::span<const uint8_t>(image.Data(), image.Length()), name, options.ram_bytes);
    const ImagePlan plan = info[9].IsObject() && info[9].As<Napi::Object>().Get("mode").StrictEquals(Napi::String::New(env, "replay"))
                               ? ImagePlanOf(info[9].As<Napi::Object>(), options)
                               : ImagePlan{};
    auto session = MakeSession(info[9], options, plan);
    ConnectCrew(*session, options);
    auto machine = std::make_unique<Machine>(options, session->world(), make_input(), boot);
    FollowCrew(*session, *machine);
    if (plan.resume) machine->RestoreStateImage(*plan.resume);
    if (plan.save_path) {
      machine->RequestStateImage(plan.save_from_ordinal, [path = *plan.save_path, sha = plan.image_sha256](StateImage&& taken) {
        taken.image_sha256 = sha;
        WriteStateImageFile(path, EncodeStateImage(taken));
      });
    }
    if (info[9].IsObject()) {
      const Napi::Value hash = info[9].As<Napi::Object>().Get("imageHash");
      std::lock_guard lock(g_running_mutex);
      g_running = {machine.get(), session->writer(), hash.IsBuffer() ? BytesOf(hash, "session.imageHash") : std::vector<uint8_t>{}};
    }
    if (tagged) TagConsole(*session, *machine);
    auto* worker = new RunWorker(env, std::move(session), std::move(machine), ProgressOf(info[10]));
    Napi::Promise promise = worker->Promise();
    worker->Queue();
    return promise;
  });
}

// emuStateImageInfo(path): what a state image holds, for messages and checks before it is
// used: { checkpoint, counts: bigint[], consoleOffset: bigint, vcpus, ramBytes, pages,
// imageSha256: Buffer }. Throws one line for a damaged or foreign file.
Napi::Value EmuStateImageInfo(const Napi::CallbackInfo& info) {
  return addon::Guarded(info.Env(), "emuStateImageInfo", [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    if (info.Length() != 1 || !info[0].IsString()) throw Napi::TypeError::New(env, "emuStateImageInfo takes a path");
    const std::string path = info[0].As<Napi::String>();
    const StateImage image = DecodeStateImage(ReadStateImageFile(path), path);
    Napi::Object out = Napi::Object::New(env);
    out.Set("checkpoint", Napi::Number::New(env, static_cast<double>(image.checkpoint_ordinal)));
    Napi::Array counts = Napi::Array::New(env, image.checkpoint.vcpus.size());
    for (uint32_t v = 0; v < image.checkpoint.vcpus.size(); ++v) counts.Set(v, Napi::BigInt::New(env, image.checkpoint.vcpus[v].at.count));
    out.Set("counts", counts);
    out.Set("consoleOffset", Napi::BigInt::New(env, image.console_offset()));
    out.Set("vcpus", Napi::Number::New(env, image.vcpus));
    out.Set("ramBytes", Napi::Number::New(env, static_cast<double>(image.ram_bytes)));
    out.Set("pages", Napi::Number::New(env, static_cast<double>(image.pages.size())));
    out.Set("imageSha256", Napi::Buffer<uint8_t>::Copy(env, image.image_sha256.data(), image.image_sha256.size()));
    return out;
  });
}

// What emuRequestStateImage's callback gets, made on the hart thread that took the image.
struct ImageTaken {
  std::string error;
  uint64_t records = 0;
  uint64_t checkpoint = 0;
  uint64_t console_offset = 0;
  std::vector<uint64_t> counts;
};

// Releases the callback's thread-safe function when the request is served or dropped.
struct ImageCallback {
  explicit ImageCallback(Napi::ThreadSafeFunction f) : fn(std::move(f)) {}
  ImageCallback(const ImageCallback&) = delete;
  ImageCallback& operator=(const ImageCallback&) = delete;
  ~ImageCallback() { fn.Release(); }
  Napi::ThreadSafeFunction fn;
};

// emuRequestStateImage(path, callback): the machine running in this process writes a state
// image to `path` at its next cut outside serialized mode; when it recorded a log, the open
// chunk is sealed right after the cut's checkpoint record, so that the checkpoint ends a
// chunk. callback({ records, checkpoint, consoleOffset, counts } | { error }) on the
// JavaScript thread (`records`: the log's records up to and including the checkpoint).
// False when no machine runs; a request replaces one not yet served.
Napi::Value EmuRequestStateImage(const Napi::CallbackInfo& info) {
  return addon::Guarded(info.Env(), "emuRequestStateImage", [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    if (info.Length() != 2 || !info[0].IsString() || !info[1].IsFunction()) {
      throw Napi::TypeError::New(env, "emuRequestStateImage takes a path and a callback");
    }
    const std::string path = info[0].As<Napi::String>();
    std::lock_guard lock(g_running_mutex);
    if (g_running.machine == nullptr) return Napi::Boolean::New(env, false);
    if (g_running.image_sha256.empty()) throw std::invalid_argument("the running machine was not told its guest's hash (session.imageHash)");
    auto callback =
        std::make_shared<ImageCallback>(Napi::ThreadSafeFunction::New(env, info[1].As<Napi::Function>(), "rrkit.stateImage", 0, 1));
    g_running.machine->RequestStateImage(0, [callback, path, sha = g_running.image_sha256, writer = g_running.writer](StateImage&& taken) {
      auto* done = new ImageTaken{};
      try {
        taken.image_sha256 = sha;
        done->records = writer != nullptr ? writer->SealAndCount() : 0;
        done->checkpoint = taken.checkpoint_ordinal;
        done->console_offset = taken.console_offset();
        for (const auto& v : taken.checkpoint.vcpus) done->counts.push_back(v.at.count);
        WriteStateImageFile(path, EncodeStateImage(taken));
      } catch (const std::exception& e) {
        done->error = e.what();
      }
      const napi_status status = callback->fn.BlockingCall(done, [](Napi::Env env, Napi::Function fn, ImageTaken* d) {
        Napi::Object out = Napi::Object::New(env);
        if (!d->error.empty()) {
          out.Set("error", d->error);
        } else {
          out.Set("records", Napi::BigInt::New(env, d->records));
          out.Set("checkpoint", Napi::Number::New(env, static_cast<double>(d->checkpoint)));
          out.Set("consoleOffset", Napi::BigInt::New(env, d->console_offset));
          Napi::Array counts = Napi::Array::New(env, d->counts.size());
          for (uint32_t i = 0; i < d->counts.size(); ++i) counts.Set(i, Napi::BigInt::New(env, d->counts[i]));
          out.Set("counts", counts);
        }
        delete d;
        fn.Call({out});
      });
      if (status != napi_ok) delete done;
    });
    return Napi::Boolean::New(env, true);
  });
}

void Export(Napi::Env env, Napi::Object exports) {
  exports.Set("emuRequestStateImage", Napi::Function::New(env, EmuRequestStateImage, "emuRequestStateImage"));
  exports.Set("emuRun", Napi::Function::New(env, EmuRun, "emuRun"));
  exports.Set("emuStateImageInfo", Napi::Function::New(env, EmuStateImageInfo, "emuStateImageInfo"));
  exports.Set("emuMaxHarts", Napi::Number::New(env, kMaxHarts));
  exports.Set("hostCores", Napi::Number::New(env, machine::VcpuScheduler::HostCores()));
}

const addon::ExportRegistrar kRegistrar("emu", Export);

}  // namespace
}  // namespace rrkit::emu
