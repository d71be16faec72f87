// The kvm engine's JavaScript surface (declared in src/native.ts): kvmRun runs an x86_64
// guest ELF on a fresh VM off the JavaScript thread and resolves with the outcome;
// kvmProbe says whether /dev/kvm can be used here, and if not, why. Arguments arrive
// checked and positional (src/engines/kvm.ts validates them).
#include <napi.h>

#include <chrono>
#include <cmath>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <stdexcept>
#include <thread>

#include "addon/registry.h"
#include "addon/run_result_js.h"
#include "addon/wall_samples_js.h"
#include "kvm/disk_image.h"
#include "kvm/elf_image.h"
#include "kvm/kvm_system.h"
#include "kvm/machine.h"
#include "replay/chunk_source.h"
#include "replay/session.h"

namespace rrkit::kvm {
namespace {

struct RunProgress {
  uint64_t exits;
  double seconds;
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
    } catch (const std::exception& e) {
      SetError(e.what());
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
    deferred_.Resolve(out);
  }

  void OnError(const Napi::Error& error) override { deferred_.Reject(error.Value()); }

  void OnProgress(const RunProgress* samples, size_t count) override {
    if (samples == nullptr || count == 0 || on_progress_.IsEmpty()) return;
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    Napi::Object sample = Napi::Object::New(env);
    sample.Set("landmarks", Napi::BigInt::New(env, samples[count - 1].exits));
    sample.Set("seconds", samples[count - 1].seconds);
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
                                 std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count()};
        progress.Send(&sample, 1);
      }
    });
    RunResult result = machine.Run();
    {
      std::lock_guard lock(mutex);
      ended = true;
    }
    ended_cv.notify_all();
    sampler.join();
    return result;
  }

  Napi::FunctionReference on_progress_;
  std::chrono::milliseconds progress_interval_{1000};
  Napi::Promise::Deferred deferred_;
  std::unique_ptr<RunParts> parts_;
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

// session: null (a plain run), { mode: 'record', path, imageHash, imagePath, configJson,
// deflateLevel?, wallSampleUs?, ... } (the CREW fields are not used: one vCPU) or { mode:
// 'replay', path, followMs } (chunks streamed as the replay reaches them; src/engines/kvm.ts
// refuses thenRun). Recording with wall-clock samples also sets options.host_time_*.
std::unique_ptr<replay::Session> MakeSession(const Napi::Value& value, MachineOptions& options) {
  if (value.IsNull() || value.IsUndefined()) return replay::Session::Live();
  const Napi::Object session = value.As<Napi::Object>();
  const std::string mode = session.Get("mode").As<Napi::String>();
  const std::string path = session.Get("path").As<Napi::String>();
  if (mode == "replay") {
    const Napi::Value follow = session.Get("followMs");
    replay::ReplayingWorld::Options replaying;
    replaying.replays_dma_writes = true;  // the board's disk
    return replay::Session::Replay(OpenLog(path, follow.IsNumber() ? follow.As<Napi::Number>().DoubleValue() : -1), replaying);
  }
  replay::LogHeader header;
  header.engine = "kvm";
  header.image_hash = BytesOf(session.Get("imageHash"));
  header.image_path = session.Get("imagePath").As<Napi::String>();
  header.vcpus = 1;
  header.ram_mib = static_cast<uint32_t>(options.ram_bytes >> 20);
  header.crew_granularity = 0;
  header.checkpoint_interval = options.checkpoint_interval;
  header.start_unix_ms = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
  header.config_json = session.Get("configJson").As<Napi::String>();
  replay::LogWriter::Options writer;
  const Napi::Value level = session.Get("deflateLevel");
  if (!level.IsUndefined()) writer.deflate_level = level.As<Napi::Number>().Int32Value();
  if (writer.deflate_level < 0 || writer.deflate_level > 9) throw std::invalid_argument("session.deflateLevel must be 0..9");
  auto recording = replay::Session::Record(path, header, writer);
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
  return ProgressRequest{progress.Get("callback").As<Napi::Function>(), std::chrono::milliseconds(static_cast<int64_t>(interval))};
}

machine::ConsoleInput InputOf(const Napi::Value& value) {
  if (value.IsBuffer()) {
    const auto bytes = value.As<Napi::Buffer<uint8_t>>();
    return machine::ConsoleInput::FromBytes(std::vector<uint8_t>(bytes.Data(), bytes.Data() + bytes.Length()));
  }
  if (value.IsNumber()) return machine::ConsoleInput::FromFd(value.As<Napi::Number>().Int32Value());
  return machine::ConsoleInput::None();
}

// kvmRun(image, imageName, ramBytes, timeoutMs, checkpointInterval, input, capture, session, progress, disk)
// disk: null, or { path: string | null, sectors: number, shared: boolean } (path null: a
// replay that takes the disk's bytes from the log).
Napi::Value KvmRun(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 10) throw Napi::TypeError::New(env, "kvmRun takes 10 arguments");
  const auto image = info[0].As<Napi::Buffer<uint8_t>>();
  const std::string name = info[1].As<Napi::String>();
  MachineOptions options;
  options.ram_bytes = static_cast<uint64_t>(info[2].As<Napi::Number>().DoubleValue());
  options.timeout = std::chrono::milliseconds(static_cast<int64_t>(info[3].As<Napi::Number>().DoubleValue()));
  options.checkpoint_interval = ToU64(info[4]);
  options.console = info[6].As<Napi::Boolean>().Value() ? machine::ConsoleOutput::Mode::kCapture : machine::ConsoleOutput::Mode::kStdout;
  options.track_memory = !info[7].IsNull() && !info[7].IsUndefined();

  try {
    auto parts = std::unique_ptr<RunParts>(new RunParts{KvmSystem::Open(), nullptr, nullptr, nullptr});
    const ElfImage elf = LoadX86Elf(std::span<const uint8_t>(image.Data(), image.Length()), name, options.ram_bytes);
    if (info[9].IsObject()) {
      const Napi::Object disk = info[9].As<Napi::Object>();
      const Napi::Value path = disk.Get("path");
      if (path.IsString()) parts->disk = std::make_unique<DiskImage>(path.As<Napi::String>().Utf8Value());
      options.disk_sectors = static_cast<uint64_t>(disk.Get("sectors").As<Napi::Number>().DoubleValue());
      options.disk_shared = disk.Get("shared").ToBoolean().Value();
    }
    parts->session = MakeSession(info[7], options);
    parts->machine = std::make_unique<Machine>(parts->system, options, parts->session->world(), InputOf(info[5]), elf,
                                               parts->disk.get());
    auto* worker = new RunWorker(env, std::move(parts), ProgressOf(info[8]));
    Napi::Promise promise = worker->Promise();
    worker->Queue();
    return promise;
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, e.what());
  }
}

// kvmProbe(path) -> { available, reason, syncRegs }
Napi::Value KvmProbe(const Napi::CallbackInfo& info) {
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

void Export(Napi::Env env, Napi::Object exports) {
  exports.Set("kvmRun", Napi::Function::New(env, KvmRun, "kvmRun"));
  exports.Set("kvmProbe", Napi::Function::New(env, KvmProbe, "kvmProbe"));
}

const addon::ExportRegistrar kRegistrar("kvm", Export);

}  // namespace
}  // namespace rrkit::kvm
