#include "machine/run_interrupts.h"

#include <map>
#include <mutex>
#include <utility>

namespace rrkit::machine {
namespace {

struct Registry {
  std::mutex mutex;
  uint64_t next_id = 0;
  std::map<uint64_t, std::function<void()>> runs;
};

Registry& Runs() {
  static Registry registry;
  return registry;
}

}  // namespace

InterruptibleRun::InterruptibleRun(std::function<void()> stop) {
  Registry& r = Runs();
  std::lock_guard lock(r.mutex);
  id_ = r.next_id++;
  r.runs.emplace(id_, std::move(stop));
}

InterruptibleRun::~InterruptibleRun() {
  Registry& r = Runs();
  std::lock_guard lock(r.mutex);
  r.runs.erase(id_);
}

uint32_t InterruptAllRuns() {
  Registry& r = Runs();
  // Under the lock: a run cannot unregister (and be destroyed) while its stop runs.
  std::lock_guard lock(r.mutex);
  for (auto& [id, stop] : r.runs) stop();
  return static_cast<uint32_t>(r.runs.size());
}

}  // namespace rrkit::machine
