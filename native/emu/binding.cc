// The emu engine's JavaScript surface (declared in src/native.ts): emuRun runs a guest
// ELF on a fresh machine off the JavaScript thread and resolves with the outcome.
// Arguments arrive checked and positional (src/engines/emu.ts validates them).
#include <napi.h>

#include <chrono>
#include <cmath>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <thread>

#include "addon/registry.h"
#include "emu/elf_loader.h"
#include "emu/machine.h"
#include "replay/chunk_source.h"
#include "replay/log_error.h"
#include "replay/session.h"

namespace rrkit::emu {
namespace {

const char* OutcomeName(RunResult::Outcome outcome) {
  switch (outcome) {
    case RunResult::Outcome::kExited: return "exited";
    case RunResult::Outcome::kReachedCounts: return "reached-counts";
    case RunResult::Outcome::kFault: return "fault";
    case RunResult::Outcome::kTimeout: return "timeout";
    case RunResult::Outcome::kHostError: return "host-error";
    case RunResult::Outcome::kDiverged: return "diverged";
    case RunResult::Outcome::kLogDamaged: return "log-damaged";
  }
  return "host-error";
}

// A sample of a run in progress, sent to the JavaScript thread.
struct RunProgress {
  uint64_t instructions;
  double seconds;
};

// What emuRun's `progress` argument asks for: a callback and how often to call it.
struct ProgressRequest {
  Napi::Function callback;
  std::chrono::milliseconds interval;
};

Napi::Array CountsToJs(Napi::Env env, const replay::Checkpoint& checkpoint) {
  Napi::Array counts = Napi::Array::New(env, checkpoint.vcpus.size());
  for (uint32_t i = 0; i < checkpoint.vcpus.size(); ++i) counts.Set(i, Napi::BigInt::New(env, checkpoint.vcpus[i].at.count));
  return counts;
}

// What a replay read and checked (src/native.ts, EmuReplayReport).
Napi::Object ReportToJs(Napi::Env env, const replay::ReplayReport& report) {
  Napi::Object out = Napi::Object::New(env);
  out.Set("chunks", Napi::Number::New(env, report.chunks));
  out.Set("records", Napi::Number::New(env, static_cast<double>(report.records)));
  out.Set("ended", report.ended);
  out.Set("complete", report.complete);
  out.Set("checkpointsCompared", Napi::Number::New(env, static_cast<double>(report.checkpoints_compared)));
  if (report.last_matching_checkpoint) out.Set("lastMatchingCheckpoint", CountsToJs(env, *report.last_matching_checkpoint));
  if (report.damage) {
    Napi::Object damage = Napi::Object::New(env);
    damage.Set("code", replay::LogErrorCodeName(report.damage->code));
    damage.Set("chunk", Napi::Number::New(env, static_cast<double>(report.damage->chunk)));
    damage.Set("offset", Napi::Number::New(env, static_cast<double>(report.damage->offset)));
    damage.Set("detail", report.damage->detail);
    out.Set("damage", damage);
  }
  return out;
}

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
      result_ = on_progress_.IsEmpty() ? machine_->Run() : RunSampling(progress);
      if (session_->replaying() != nullptr) replay_report_ = session_->replaying()->report();
      // Seal and flush the log (and its trailer, when the machine stopped cleanly) before
      // the promise resolves, so that the caller can read it at once.
      machine_.reset();
      session_.reset();
    } catch (const std::exception& e) {
      SetError(e.what());
    }
  }

  void OnOK() override {
    Napi::Env env = Env();
    Napi::Object out = Napi::Object::New(env);
    out.Set("outcome", OutcomeName(result_.outcome));
    out.Set("exitCode", result_.exit_code);
    out.Set("exitHart", result_.exit_at.vcpu);
    out.Set("exitCount", Napi::BigInt::New(env, result_.exit_at.count));
    out.Set("error", result_.error);
    if (result_.divergence) {
      const replay::Divergence& d = *result_.divergence;
      Napi::Object divergence = Napi::Object::New(env);
      divergence.Set("vcpu", d.at.vcpu);
      divergence.Set("count", Napi::BigInt::New(env, d.at.count));
      divergence.Set("what", d.what);
      divergence.Set("expected", d.expected);
      divergence.Set("actual", d.actual);
      out.Set("divergence", divergence);
    }
    Napi::Array harts = Napi::Array::New(env, result_.harts.size());
    for (uint32_t i = 0; i < result_.harts.size(); ++i) {
      Napi::Object hart = Napi::Object::New(env);
      hart.Set("instret", Napi::BigInt::New(env, result_.harts[i].instret));
      hart.Set("pc", Napi::BigInt::New(env, result_.harts[i].pc));
      hart.Set("registerHash", Napi::BigInt::New(env, result_.harts[i].register_hash));
      harts.Set(i, hart);
    }
    out.Set("harts", harts);
    out.Set("memoryHash", Napi::BigInt::New(env, result_.memory_hash));
    out.Set("stateHash", Napi::BigInt::New(env, result_.state_hash));
    out.Set("wallSeconds", result_.wall_seconds);
    out.Set("logComplete", !replay_report_.has_value() || replay_report_->complete);
    if (replay_report_.has_value()) out.Set("replay", ReportToJs(env, *replay_report_));
    out.Set("console", Napi::Buffer<char>::Copy(env, result_.console.data(), result_.console.size()));
    machine_.reset();
    deferred_.Resolve(out);
  }

  void OnError(const Napi::Error& error) override { deferred_.Reject(error.Value()); }

  void OnProgress(const RunProgress* samples, size_t count) override {
    if (samples == nullptr || count == 0 || on_progress_.IsEmpty()) return;
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    Napi::Object sample = Napi::Object::New(env);
    sample.Set("instructions", Napi::BigInt::New(env, samples[count - 1].instructions));
    sample.Set("seconds", samples[count - 1].seconds);
    on_progress_.Call({sample});
  }

 private:
  // Runs the machine on this thread while a sampler thread sends a progress sample every
  // interval (never after the run has ended).
  RunResult RunSampling(const ExecutionProgress& progress) {
    std::mutex mutex;
    std::condition_variable ended_cv;
    bool ended = false;
    const auto started = std::chrono::steady_clock::now();
    std::thread sampler([&] {
      std::unique_lock lock(mutex);
      while (!ended_cv.wait_for(lock, progress_interval_, [&] { return ended; })) {
        const RunProgress sample{machine_->RetiredSoFar(),
                                 std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count()};
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
      RunResult result = machine_->Run();
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
  RunResult result_;
  std::optional<replay::ReplayReport> replay_report_;  // replay: what was read and checked
};

uint64_t ToU64(const Napi::Value& value) {
  bool lossless = true;
  return value.As<Napi::BigInt>().Uint64Value(&lossless);
}

std::vector<uint8_t> BytesOf(const Napi::Value& value) {
  const auto bytes = value.As<Napi::Buffer<uint8_t>>();
  return std::vector<uint8_t>(bytes.Data(), bytes.Data() + bytes.Length());
}

// The log a replay reads: the file as it is, or (followMs non-negative) as a recording goes
// on writing it, giving up after followMs without a new byte (0: never).
std::unique_ptr<replay::LogReader> OpenLog(const std::string& path, double follow_ms) {
  if (follow_ms < 0) return replay::LogReader::Open(path);
  return std::make_unique<replay::LogReader>(std::make_unique<replay::FollowingFileChunkSource>(
      path, std::chrono::milliseconds(static_cast<int64_t>(follow_ms))));
}

// session: null (a plain run), { mode: 'record', path, imageHash, imagePath, crewGranularity,
// crewHold, configJson } or { mode: 'replay', path, followMs }.
// Recording also sets options.crew_hold_instructions (TypeScript owns its default).
std::unique_ptr<replay::Session> MakeSession(const Napi::Value& value, MachineOptions& options) {
  if (value.IsNull() || value.IsUndefined()) return replay::Session::Live();
  const Napi::Object session = value.As<Napi::Object>();
  const std::string mode = session.Get("mode").As<Napi::String>();
  const std::string path = session.Get("path").As<Napi::String>();
  if (mode == "replay") return replay::Session::Replay(OpenLog(path, session.Get("followMs").As<Napi::Number>().DoubleValue()));
  replay::LogHeader header;
  header.engine = "emu";
  header.image_hash = BytesOf(session.Get("imageHash"));
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
  return replay::Session::Record(path, header);
}

// SMP: recording several harts tracks page ownership (CREW) and logs each transfer;
// replaying them follows the logged transfers.
void ConnectCrew(replay::Session& session, MachineOptions& options) {
  if (options.harts < 2) return;
  if (replay::LogWriter* writer = session.writer()) {
    options.crew_granularity = writer->header().crew_granularity;
    if (options.crew_granularity == 0) throw std::invalid_argument("recording several harts needs a CREW granularity");
    // Called under CREW's lock; Append takes only the writer's own lock, which nothing
    // holds while calling into CREW, so the two locks are always taken in this order.
    options.crew_sink = [writer](const crew::TransferEdge& e) {
      writer->Append(replay::CrewTransferRecord{e.page, {e.from_vcpu, e.from_count}, {e.to_vcpu, e.to_count}});
    };
  } else if (replay::ReplayingWorld* replaying = session.replaying()) {
    if (replaying->header().vcpus != options.harts) {
      throw std::invalid_argument("the log was recorded with " + std::to_string(replaying->header().vcpus) +
                                  " harts, not " + std::to_string(options.harts));
    }
    options.follow_crew_edges = true;
  }
}

// SMP replay: the edges the world reads go to the machine's gate, as it reads them.
void FollowCrew(replay::Session& session, Machine& machine) {
  replay::ReplayingWorld* replaying = session.replaying();
  crew::ReplayGate* gate = machine.replay_gate();
  if (replaying == nullptr || gate == nullptr) return;
  replaying->FollowTransfers({[gate](const replay::CrewTransferRecord& r) {
                                gate->AddEdge({r.page, r.from.vcpu, r.from.count, r.to.vcpu, r.to.count});
                              },
                              [gate] { return gate->Pending(); }});
}

// progress: null, or { callback, intervalMs }.
std::optional<ProgressRequest> ProgressOf(const Napi::Value& value) {
  if (value.IsNull() || value.IsUndefined()) return std::nullopt;
  const Napi::Object progress = value.As<Napi::Object>();
  const double interval = progress.Get("intervalMs").As<Napi::Number>().DoubleValue();
  if (!std::isfinite(interval) || interval < 10 || interval > 3'600'000) {
    throw std::invalid_argument("progress.intervalMs must be from 10 to 3600000");
  }
  return ProgressRequest{progress.Get("callback").As<Napi::Function>(), std::chrono::milliseconds(static_cast<int64_t>(interval))};
}

// emuRun(image, imageName, harts, ramBytes, timeoutMs, checkpointInterval, stopAt, input, capture, session, progress)
Napi::Value EmuRun(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 11) throw Napi::TypeError::New(env, "emuRun takes 11 arguments");
  const auto image = info[0].As<Napi::Buffer<uint8_t>>();
  const std::string name = info[1].As<Napi::String>();
  MachineOptions options;
  options.harts = info[2].As<Napi::Number>().Uint32Value();
  options.ram_bytes = static_cast<uint64_t>(info[3].As<Napi::Number>().DoubleValue());
  options.timeout = std::chrono::milliseconds(static_cast<int64_t>(info[4].As<Napi::Number>().DoubleValue()));
  options.checkpoint_interval = ToU64(info[5]);
  const auto stop_at = info[6].As<Napi::Array>();
  for (uint32_t i = 0; i < stop_at.Length(); ++i) options.stop_at.push_back(ToU64(stop_at.Get(i)));
  options.console = info[8].As<Napi::Boolean>().Value() ? ConsoleOutput::Mode::kCapture : ConsoleOutput::Mode::kStdout;

  auto make_input = [&] {
    if (info[7].IsBuffer()) {
      const auto bytes = info[7].As<Napi::Buffer<uint8_t>>();
      return ConsoleInput::FromBytes(std::vector<uint8_t>(bytes.Data(), bytes.Data() + bytes.Length()));
    }
    if (info[7].IsNumber()) return ConsoleInput::FromFd(info[7].As<Napi::Number>().Int32Value());
    return ConsoleInput::None();
  };

  try {
    const BootImage boot = LoadElf(std::span<const uint8_t>(image.Data(), image.Length()), name, options.ram_bytes);
    auto session = MakeSession(info[9], options);
    ConnectCrew(*session, options);
    auto machine = std::make_unique<Machine>(options, session->world(), make_input(), boot);
    FollowCrew(*session, *machine);
    auto* worker = new RunWorker(env, std::move(session), std::move(machine), ProgressOf(info[10]));
    Napi::Promise promise = worker->Promise();
    worker->Queue();
    return promise;
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, e.what());
  }
}

void Export(Napi::Env env, Napi::Object exports) { exports.Set("emuRun", Napi::Function::New(env, EmuRun, "emuRun")); }

const addon::ExportRegistrar kRegistrar("emu", Export);

}  // namespace
}  // namespace rrkit::emu
