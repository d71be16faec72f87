#include "kvm/crew_replay.h"

#include <sched.h>

#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <thread>

#include "crew/edge_validation.h"
#include "replay/divergence.h"
#include "replay/log_error.h"
#include "replay/replaying_world.h"

namespace rrkit::kvm {
namespace {

std::string PageName(uint64_t page, bool write) {
  char text[48];
  std::snprintf(text, sizeof text, "page 0x%llx (%s)", static_cast<unsigned long long>(page), write ? "write" : "read");
  return text;
}

std::string Describe(const std::vector<replay::CrewFaultRecord>& pages) {
  std::string out = "a stop on ";
  for (size_t i = 0; i < pages.size(); ++i) {
    if (i > 0) out.append(", ");
    out.append(PageName(pages[i].page, pages[i].write));
  }
  return out;
}

}  // namespace

CrewReplay::CrewReplay(uint32_t vcpus, crew::PageGeometry geometry, std::vector<PageProtector*> protectors,
                       crew::ReplayGate::Options gate_options, uint64_t shuffle_seed)
    : geometry_(geometry), gate_(std::make_unique<crew::ReplayGate>(vcpus, gate_options)), shuffle_(shuffle_seed) {
  if (protectors.size() != vcpus) throw std::invalid_argument("CREW replay: one page protector per vCPU");
  for (uint32_t v = 0; v < vcpus; ++v) {
    vcpus_.push_back(std::make_unique<Vcpu>());
    vcpus_.back()->protector = protectors[v];
  }
}

// An edge into v@count arrives before v's records above count (it was logged while v stood
// there), and so before v, reading one landmark ahead, runs to count.
void CrewReplay::AddEdge(const replay::CrewTransferRecord& r) {
  try {
    gate_->AddEdge({r.page, r.from.vcpu, r.from.count, r.to.vcpu, r.to.count});
  } catch (const crew::InvalidEdgeLog& e) {
    throw replay::UnreplayableLog(e.what());
  }
  std::lock_guard lock(edges_mutex_);
  EdgesInto& into = edges_into_[{r.to.vcpu, r.to.count}];
  ++into.count;
  into.pages.push_back(r.page);
}

void CrewReplay::AddFault(const replay::CrewFaultRecord& f) {
  if (f.at.vcpu >= vcpus_.size()) {
    throw replay::UnreplayableLog("CREW log: a fault of vcpu " + std::to_string(f.at.vcpu) + " on a machine of " +
                                  std::to_string(vcpus_.size()) + " vCPUs");
  }
  Vcpu& me = *vcpus_[f.at.vcpu];
  if (f.at.count < me.last_fault) {
    throw replay::LogOrderError("CREW log: vcpu " + std::to_string(f.at.vcpu) + "'s faults out of order (@ " +
                                std::to_string(f.at.count) + " after @ " + std::to_string(me.last_fault) + ")");
  }
  me.last_fault = f.at.count;
  std::lock_guard lock(me.mutex);
  if (me.faults.empty() || me.faults.back().count != f.at.count) me.faults.push_back(Fault{f.at.count, {}});
  me.faults.back().pages.push_back(f);
  faults_pending_.fetch_add(1, std::memory_order_relaxed);
}

void CrewReplay::Cut(const std::vector<uint64_t>& cut) {
  for (uint32_t v = 0; v < vcpus_.size() && v < cut.size(); ++v) {
    Vcpu& me = *vcpus_[v];
    {
      std::lock_guard lock(me.mutex);
      while (!me.faults.empty() && me.faults.back().count >= cut[v]) {
        faults_pending_.fetch_sub(me.faults.back().pages.size(), std::memory_order_relaxed);
        me.faults.pop_back();
      }
    }
    std::lock_guard lock(edges_mutex_);
    edges_into_.erase({v, cut[v]});
  }
}

size_t CrewReplay::Pending() const { return gate_->Pending() + faults_pending_.load(std::memory_order_relaxed); }

uint64_t CrewReplay::TakeEdgesInto(uint32_t v, uint64_t count) {
  std::lock_guard lock(edges_mutex_);
  const auto edges = edges_into_.find({v, count});
  if (edges == edges_into_.end()) return 0;
  const uint64_t n = edges->second.count;
  edges_into_.erase(edges);
  return n;
}

// Just before the landmark of a recorded fault, the page goes: the vCPU stops at the first
// access that needs it, which is the instruction that stopped in the recording (its rights
// there had not changed since its previous landmark).
void CrewReplay::BeforeRun(uint32_t v, uint64_t count) {
  Vcpu& me = *vcpus_[v];
  std::lock_guard lock(me.mutex);
  if (me.armed) return;
  if (me.faults.empty() || me.faults.front().count != count + 1) return;
  for (const replay::CrewFaultRecord& f : me.faults.front().pages) {
    me.protector->Protect(f.page, 1, f.write ? crew::Access::kRead : crew::Access::kNone);
  }
  me.armed = true;
}

bool CrewReplay::Protects(uint32_t v, std::span<const PageAccess> needed) const {
  const Vcpu& me = *vcpus_[v];
  std::lock_guard lock(me.mutex);
  for (const PageAccess& a : me.armed_edges) {
    for (const PageAccess& p : needed) {
      if (p.page == a.page) return true;
    }
  }
  if (!me.armed || me.faults.empty()) return false;
  for (const replay::CrewFaultRecord& f : me.faults.front().pages) {
    for (const PageAccess& p : needed) {
      if (p.page == f.page) return true;
    }
  }
  return false;
}

std::vector<PageAccess> CrewReplay::ArmedStop(uint32_t v) const {
  const Vcpu& me = *vcpus_[v];
  std::lock_guard lock(me.mutex);
  std::vector<PageAccess> pages = me.armed_edges;
  if (me.armed && !me.faults.empty()) {
    for (const replay::CrewFaultRecord& f : me.faults.front().pages) pages.push_back({f.page, f.write});
  }
  return pages;
}

void CrewReplay::ArmEdgesInto(uint32_t v, uint64_t count) {
  Vcpu& me = *vcpus_[v];
  {
    std::lock_guard lock(me.mutex);
    if (!me.faults.empty() && me.faults.front().count == count) return;  // its record is here: armed as any
  }
  std::vector<uint64_t> pages;
  {
    std::lock_guard lock(edges_mutex_);
    const auto edges = edges_into_.find({v, count});
    if (edges == edges_into_.end()) return;
    pages = edges->second.pages;
  }
  const uint64_t ram_pages = geometry_.page_count() - 1;  // the last stands for the console
  std::lock_guard lock(me.mutex);
  for (const uint64_t page : pages) {
    if (page >= ram_pages) continue;
    me.protector->Protect(page, 1, crew::Access::kNone);
    me.armed_edges.push_back({page, false});
  }
}

void CrewReplay::WaitAtGate(uint32_t v, uint64_t count) {
  gate_->Publish(v, count);
  if (gate_->NextWaitCount(v) > count) return Shuffle();
  try {
    gate_->WaitAt(v, count);
  } catch (const crew::ReplayStalled& stalled) {
    throw replay::Divergence{{v, count}, "transfer order", "every vCPU progressing", stalled.what()};
  }
  Shuffle();
}

void CrewReplay::Shuffle() {
  if (!shuffle_.on() || shuffle_.Coin()) return;
  if (shuffle_.Coin()) {
    sched_yield();
  } else {
    std::this_thread::sleep_for(std::chrono::microseconds(shuffle_.UpTo(200)));
  }
}

void CrewReplay::AtExit(uint32_t v, uint64_t count) {
  const Vcpu& me = *vcpus_[v];
  {
    std::lock_guard lock(me.mutex);
    if (!me.faults.empty() && me.faults.front().count == count) {
      throw replay::Divergence{{v, count}, "CREW fault", Describe(me.faults.front().pages), "an exit"};
    }
  }
  TakeEdgesInto(v, count);
  WaitAtGate(v, count);
}

bool CrewReplay::AtFault(uint32_t v, uint64_t count, std::span<const PageAccess> needed, bool stop_here) {
  Vcpu& me = *vcpus_[v];
  if (stop_here) {  // the recorded end: the vCPU stopped here without running the instruction
    gate_->Publish(v, count);
    return false;
  }
  Fault fault;
  {
    std::lock_guard lock(me.mutex);
    if (me.faults.empty() || me.faults.front().count != count) {
      std::string actual = "a stop on";
      for (const PageAccess& p : needed) {
        actual.append(" ");
        actual.append(PageName(p.page, p.write));
      }
      throw replay::Divergence{{v, count}, "CREW fault",
                               me.faults.empty() ? std::string("no more stops") : "the next stop @ " + std::to_string(me.faults.front().count),
                               actual};
    }
    fault = me.faults.front();
  }
  uint64_t recorded = 0;  // edges into the stop: its pages' and those of the pages that came along
  for (const replay::CrewFaultRecord& f : fault.pages) {
    bool found = false;
    for (const PageAccess& p : needed) found = found || (p.page == f.page && (p.write || !f.write));
    if (!found) throw replay::Divergence{{v, count}, "CREW fault", Describe(fault.pages), "an instruction that does not touch it so"};
    recorded += f.edges;
  }
  const uint64_t logged = TakeEdgesInto(v, count);
  if (logged != recorded) {
    throw replay::Divergence{{v, count}, "transfer edges", std::to_string(recorded) + " into " + Describe(fault.pages),
                             std::to_string(logged) + " in the log"};
  }
  {
    std::lock_guard lock(me.mutex);
    me.faults.pop_front();
    me.armed = false;
    faults_pending_.fetch_sub(fault.pages.size(), std::memory_order_relaxed);
  }
  WaitAtGate(v, count);
  for (const replay::CrewFaultRecord& f : fault.pages) me.protector->Protect(f.page, 1, crew::Access::kWrite);
  return true;
}

void CrewReplay::SpinWait(uint32_t, uint64_t) { sched_yield(); }

void CrewReplay::Finished(uint32_t v, uint64_t count) { gate_->Finish(v, count); }

void CrewReplay::Stop(bool abandon) {
  if (abandon) gate_->Cancel();
}

}  // namespace rrkit::kvm
