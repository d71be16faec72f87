// The emu engine's JavaScript surface (declared in src/native.ts): emuRun runs a guest
// ELF on a fresh machine off the JavaScript thread and resolves with the outcome.
// Arguments arrive checked and positional (src/engines/emu.ts validates them).
#include <napi.h>

#include <memory>
#include <span>

#include "addon/registry.h"
#include "emu/elf_loader.h"
#include "emu/machine.h"
#include "replay/world.h"

namespace rrkit::emu {
namespace {

const char* OutcomeName(RunResult::Outcome outcome) {
  switch (outcome) {
    case RunResult::Outcome::kExited: return "exited";
    case RunResult::Outcome::kReachedCounts: return "reached-counts";
    case RunResult::Outcome::kFault: return "fault";
    case RunResult::Outcome::kTimeout: return "timeout";
    case RunResult::Outcome::kHostError: return "host-error";
  }
  return "host-error";
}

class RunWorker final : public Napi::AsyncWorker {
 public:
  RunWorker(Napi::Env env, std::unique_ptr<replay::World> world, std::unique_ptr<Machine> machine)
      : Napi::AsyncWorker(env, "rrkit.emuRun"),
        deferred_(Napi::Promise::Deferred::New(env)),
        world_(std::move(world)),
        machine_(std::move(machine)) {}

  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    try {
      result_ = machine_->Run();
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
    out.Set("console", Napi::Buffer<char>::Copy(env, result_.console.data(), result_.console.size()));
    machine_.reset();
    deferred_.Resolve(out);
  }

  void OnError(const Napi::Error& error) override { deferred_.Reject(error.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  std::unique_ptr<replay::World> world_;
  std::unique_ptr<Machine> machine_;
  RunResult result_;
};

uint64_t ToU64(const Napi::Value& value) {
  bool lossless = true;
  return value.As<Napi::BigInt>().Uint64Value(&lossless);
}

// emuRun(image, imageName, harts, ramBytes, timeoutMs, checkpointInterval, stopAt, input, capture)
Napi::Value EmuRun(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 9) throw Napi::TypeError::New(env, "emuRun takes 9 arguments");
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
    auto world = std::make_unique<replay::LiveWorld>();
    auto machine = std::make_unique<Machine>(options, *world, make_input(), boot);
    auto* worker = new RunWorker(env, std::move(world), std::move(machine));
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
