#include "kvm/crew_recording.h"

#include <algorithm>
#include <chrono>
#include <stdexcept>
#include <string>

#include "emu/futex.h"

namespace rrkit::kvm {
namespace {

constexpr uint32_t kAttentionCrew = 1;
constexpr uint32_t kAttentionStop = 2;
// A spin-waiting vCPU sleeps at most this long without news (a spin on the clock or a
// device, which no page transfer announces), as on emu.
constexpr std::chrono::microseconds kSpinWaitTimeout{200};

}  // namespace

std::vector<PageAccess> PagesTouched(const crew::PageGeometry& geometry, std::span<const MemoryAccess> accesses,
                                     uint64_t first_address, uint64_t end_address) {
  std::vector<PageAccess> pages;
  for (const MemoryAccess& a : accesses) {
    if (a.length == 0) continue;
    const uint64_t begin = std::max(a.address, first_address);
    const uint64_t last = std::min(a.address + a.length - 1, end_address - 1);
    if (a.address + a.length - 1 < a.address || begin > last) continue;  // wraps, or outside RAM
    for (uint64_t page = geometry.PageOf(begin); page <= geometry.PageOf(last); ++page) {
      bool seen = false;
      for (PageAccess& p : pages) {
        if (p.page == page) {
          p.write = p.write || a.write;
          seen = true;
        }
      }
      if (!seen) pages.push_back({page, a.write});
    }
  }
  return pages;
}

CrewRecording::CrewRecording(const CrewLayout& layout, std::vector<PageProtector*> protectors, crew::TransferSink edges,
                             FaultSink faults)
    : layout_(layout),
      console_page_(layout.ram_bytes / layout.granularity),
      along_max_(layout.along == 0 ? 0
                                   : static_cast<uint32_t>(std::max<uint64_t>(layout.along, layout.along_max_bytes / layout.granularity - 1))),
      edges_(std::move(edges)),
      faults_(std::move(faults)) {
  if (protectors.size() != layout.vcpus) throw std::invalid_argument("CREW recording: one page protector per vCPU");
  if (layout.image_start % layout.granularity != 0 || layout.ram_bytes % layout.granularity != 0)
    throw std::invalid_argument("CREW granularity " + std::to_string(layout.granularity) +
                                " must divide the image's start and the RAM size (at most 1 MiB on kvm)");
  std::vector<crew::VcpuHooks> hooks;
  for (uint32_t v = 0; v < layout.vcpus; ++v) {
    auto vcpu = std::make_unique<Vcpu>();
    vcpu->protector = protectors[v];
    Vcpu* raw = vcpu.get();
    const uint64_t ram_pages = console_page_;
    hooks.push_back({&raw->attention, kAttentionCrew, [raw] { emu::FutexWakeAll(raw->attention); },
                     [raw, ram_pages](uint64_t page, crew::Access access) {
                       if (page < ram_pages) raw->pending.Note(page, access);
                     }});
    vcpus_.push_back(std::move(vcpu));
  }
  // Edges are counted per grant, so that the fault record can say how many lead into it.
  auto sink = [this](const crew::TransferEdge& e) {
    vcpus_[e.to_vcpu]->edges_in.fetch_add(1, std::memory_order_relaxed);
    edges_(e);
  };
  crew_ = std::make_unique<crew::Crew>(crew::PageGeometry(0, layout.ram_bytes + layout.granularity, layout.granularity),
                                       std::move(hooks), sink, /*hold=*/0);

  // The start: RAM above the VMM's tables unheld (no access), then the same grants in every run.
  const uint64_t g = layout.granularity;
  const uint64_t first = layout.image_start / g;
  for (auto& v : vcpus_) v->protector->Protect(first, console_page_ - first, crew::Access::kNone);
  for (uint64_t page = first; page < layout.writable_start / g; ++page) {
    for (uint32_t v = 0; v < layout.vcpus; ++v) crew_->Acquire(v, page, false, 0);
  }
  if (layout.hart_areas != 0) {
    for (uint32_t v = 0; v < layout.vcpus; ++v) {
      const uint64_t begin = layout.hart_areas + v * layout.hart_area_bytes;
      for (uint64_t page = (begin + g - 1) / g; (page + 1) * g <= begin + layout.hart_area_bytes; ++page) {
        crew_->Acquire(v, page, true, 0);
      }
    }
  }
  for (uint32_t v = 0; v < layout.vcpus; ++v) BeforeRun(v, 0);
}

void CrewRecording::BeforeRun(uint32_t v, uint64_t) {
  Vcpu& me = *vcpus_[v];
  me.protect_calls += me.pending.Apply(*me.protector);
}

void CrewRecording::AtExit(uint32_t v, uint64_t count) {
  if ((vcpus_[v]->attention.load(std::memory_order_acquire) & kAttentionCrew) != 0) crew_->Poll(v, count);
}

bool CrewRecording::Protects(uint32_t v, std::span<const PageAccess> needed) const {
  for (const PageAccess& p : needed) {
    if (!crew_->Permissions(v).Allows(p.page, p.write)) return true;
  }
  return false;
}

bool CrewRecording::Gain(uint32_t v, uint64_t page, bool write, uint64_t count) {
  if (crew_->Permissions(v).Allows(page, write)) return true;
  return crew_->Acquire(v, page, write, count);
}

// How many pages may come along with `page` (crew::Crew::Acquire): never into the hart
// areas, which their vCPUs own from the start so that interrupt delivery at CPL0 never
// meets a protected page, nor into the console's page.
uint32_t CrewRecording::AlongLimit(uint64_t page) const {
  const uint64_t g = layout_.granularity;
  uint64_t end = console_page_;
  if (layout_.hart_areas != 0) {
    const uint64_t areas_first = layout_.hart_areas / g;
    const uint64_t areas_end = (layout_.hart_areas + uint64_t{layout_.vcpus} * layout_.hart_area_bytes + g - 1) / g;
    if (page < areas_first) {
      end = areas_first;
    } else if (page < areas_end) {
      return 0;
    }
  }
  return static_cast<uint32_t>(std::min<uint64_t>(along_max_, end > page ? end - page - 1 : 0));
}

// A sweep (a first touch of a buffer, a copy into pages another vCPU wrote, a read of a run
// it wrote) stops at the end of what its previous stop gained: like a file's readahead, each
// such stop asks for twice as many pages along (plus one), so that a long sweep stops
// about log2(length) times rather than once per `along` pages. Any other stop starts again
// from the base. What a larger window risks is the same as for any page along: a page
// another vCPU then wants costs that vCPU a wait for a landmark of this one.
uint32_t CrewRecording::Window(Vcpu& me, uint64_t page, bool write) {
  const bool sweeping = page == me.sweep_end && write == me.sweep_write;
  me.window = sweeping ? std::min(along_max_, me.window * 2 + 1) : layout_.along;
  return me.window;
}

void CrewRecording::NoteSweep(uint32_t v, uint64_t page, bool write, uint32_t window) {
  Vcpu& me = *vcpus_[v];
  uint64_t end = page + 1;
  while (end <= page + window && crew_->Permissions(v).Allows(end, write)) ++end;
  me.sweep_end = end;
  me.sweep_write = write;
}

bool CrewRecording::AtStopWhereLive(uint32_t v, uint64_t count, std::span<const PageAccess> needed) {
  Vcpu& me = *vcpus_[v];
  uint64_t edges = 0;
  bool granted = true;
  for (const PageAccess& p : needed) {
    if (!granted || crew_->Permissions(v).Allows(p.page, p.write)) continue;
    me.edges_in.store(0, std::memory_order_relaxed);
    granted = crew_->Acquire(v, p.page, p.write, count, std::min(layout_.along, AlongLimit(p.page)));
    edges += me.edges_in.load(std::memory_order_relaxed);
  }
  // The pages taken away that the instruction touches (replay checks each record's page
  // against it): nothing before it in the stretch touched any of those taken away.
  std::vector<PageAccess> stopped_on;
  for (const PageAccess& a : me.went_live_stop) {
    for (const PageAccess& p : needed) {
      if (p.page == a.page) stopped_on.push_back({a.page, a.write && p.write});
    }
  }
  if (stopped_on.empty()) stopped_on.push_back(me.went_live_stop.front());
  for (const PageAccess& p : stopped_on) {
    faults_(replay::CrewFaultRecord{{v, count}, p.page, p.write, edges});
    edges = 0;  // all counted by the first record
  }
  me.went_live_stop.clear();
  return granted;
}

bool CrewRecording::AtFault(uint32_t v, uint64_t count, std::span<const PageAccess> needed, bool stop_here) {
  Vcpu& me = *vcpus_[v];
  if (count == me.went_live_at && !me.went_live_stop.empty() && !stop_here) return AtStopWhereLive(v, count, needed);
  bool any = false;
  for (const PageAccess& p : needed) {
    if (crew_->Permissions(v).Allows(p.page, p.write)) continue;
    any = true;
    if (stop_here) {
      faults_(replay::CrewFaultRecord{{v, count}, p.page, p.write, 0});
      continue;
    }
    me.edges_in.store(0, std::memory_order_relaxed);
    // Each record counts the edges its Acquire brought, pages along included: replay
    // compares their sum with the edges the log has into this landmark.
    const uint32_t window = std::min(Window(me, p.page, p.write), AlongLimit(p.page));
    const bool granted = crew_->Acquire(v, p.page, p.write, count, window);
    faults_(replay::CrewFaultRecord{{v, count}, p.page, p.write, granted ? me.edges_in.load(std::memory_order_relaxed) : 0});
    if (!granted) return false;
    NoteSweep(v, p.page, p.write, window);
  }
  if (stop_here) return false;
  if (!any) {
    throw std::runtime_error("vCPU " + std::to_string(v) + " stopped on a protected page at landmark " + std::to_string(count) +
                             ", but every page its instruction touches is allowed to it");
  }
  return true;
}

bool CrewRecording::GuestAccess(uint32_t v, uint64_t count, uint64_t address, uint64_t length, bool write) {
  const MemoryAccess access{address, length, write};
  for (const PageAccess& p : PagesTouched(crew_->geometry(), std::span(&access, 1), layout_.image_start, layout_.ram_bytes)) {
    if (!Gain(v, p.page, p.write, count)) return false;
  }
  return true;
}

bool CrewRecording::SharedDevice(uint32_t v, uint64_t count) { return Gain(v, console_page_, true, count); }

void CrewRecording::SpinWait(uint32_t v, uint64_t count) {
  Vcpu& me = *vcpus_[v];
  {
    const crew::Crew::Parked parked(*crew_, v, count, crew::ParkReason::kSpinWait);
    emu::FutexWait(me.attention, 0, kSpinWaitTimeout);
  }
  AtExit(v, count);  // clears the bit CREW set to wake it
}

void CrewRecording::Halted(uint32_t v, uint64_t count, const std::function<void()>& wait) {
  {
    const crew::Crew::Parked parked(*crew_, v, count);
    wait();
  }
  AtExit(v, count);  // requests that came while it was parked were served by whoever took the page
}

void CrewRecording::Finished(uint32_t v, uint64_t count) { crew_->Park(v, count); }

void CrewRecording::Stop(bool abandon) {
  if (abandon) crew_->Stop();
  for (auto& v : vcpus_) {
    v->attention.fetch_or(kAttentionStop, std::memory_order_release);
    emu::FutexWakeAll(v->attention);
  }
}

}  // namespace rrkit::kvm
