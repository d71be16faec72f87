// State images of the emu machine (emu/state_image.h): taken at a consistent cut, while
// every hart is paused at an instruction boundary; restored into a fresh machine before it
// runs.
#include <fcntl.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "emu/machine.h"
#include "emu/ram_hash.h"

namespace rrkit::emu {
namespace {

constexpr uint64_t kPageBytes = uint64_t{1} << kPageShift;

}  // namespace

void Machine::RequestStateImage(uint64_t from_ordinal, StateImageSink sink) {
  {
    std::lock_guard lock(image_mutex_);
    image_request_.emplace(from_ordinal, std::move(sink));
  }
  // Live (a recording): a cut now rather than at the next scheduled one. A replay's cuts are
  // the log's.
  if (world_.DeliversLiveInterrupts()) harts_[0]->RaiseAttention(kAttentionImageCut);
}

bool Machine::AnyHartSerialized() const {
  for (const auto& hart : harts_) {
    if (serializer_ && serializer_->InGroup(hart->id())) return true;
    if (follower_ && follower_->InGroup(hart->id())) return true;
  }
  return false;
}

void Machine::OfferStateImage(const replay::Checkpoint& cut) {
  StateImageSink sink;
  {
    std::lock_guard lock(image_mutex_);
    if (!image_request_.has_value() || cuts_taken_.load(std::memory_order_relaxed) < image_request_->first) return;
    // Serialized groups are not in an image: the next cut outside serialized mode serves it.
    if (AnyHartSerialized()) return;
    sink = std::move(image_request_->second);
    image_request_.reset();
  }
  sink(CaptureStateImage(cut));
}

StateImage Machine::CaptureStateImage(const replay::Checkpoint& cut) {
  StateImage image;
  image.vcpus = hart_count();
  image.ram_bytes = ram_.size();
  image.checkpoint = cut;
  image.checkpoint_ordinal = cuts_taken_.load(std::memory_order_relaxed);
  const machine::ConsoleOutput::Snapshot console = board_.console().Save();
  image.console = console.digest;
  image.console_pending.assign(console.pending.begin(), console.pending.end());
  const Uart::Registers uart = board_.uart().Save();
  image.uart = {uart.ier, uart.lcr, uart.mcr, uart.scr, uart.dll, uart.dlm};
  for (uint32_t v = 0; v < hart_count(); ++v) {
    const Hart& h = *harts_[v];
    StateImage::HartState s;
    std::copy(h.x.begin(), h.x.begin() + 32, s.x.begin());
    s.x[0] = 0;
    s.pc = h.pc;
    s.instret = h.instret;
    s.mstatus = h.mstatus;
    s.mie = h.mie;
    s.mtvec = h.mtvec;
    s.mscratch = h.mscratch;
    s.mepc = h.mepc;
    s.mcause = h.mcause;
    s.mtval = h.mtval;
    s.minstret_offset = h.minstret_offset;
    s.mcycle_offset = h.mcycle_offset;
    if (h.reservation) s.reservation = StateImage::Reservation{h.reservation->offset, h.reservation->value, h.reservation->doubleword};
    s.last_exception_at = h.last_exception_at();
    s.sleeping = runs_[v]->sleeping;
    const Clint::HartRegisters clint = board_.clint().Save(v);
    s.msip = clint.msip;
    s.mtimecmp = clint.mtimecmp;
    s.latest_mtime = clint.latest_mtime;
    image.harts.push_back(s);
  }
  ForEachDataPage(ram_, [&](uint64_t offset, const uint8_t* bytes) {
    image.pages.push_back(offset >> kPageShift);
    image.page_bytes.insert(image.page_bytes.end(), bytes, bytes + kPageBytes);
  });
  return image;
}

void Machine::RestoreStateImage(const StateImage& image) {
  if (image.vcpus != hart_count() || image.ram_bytes != ram_.size() || image.harts.size() != hart_count() ||
      image.page_bytes.size() != image.pages.size() * kPageBytes) {
    throw StateImageError("the state image is of another machine (" + std::to_string(image.vcpus) + " vCPUs, " +
                          std::to_string(image.ram_bytes >> 20) + " MiB)");
  }
  // RAM: all zero (the constructor loaded the ELF's segments), then the image's pages. The
  // RAM file's holes read as zero; punching one over it all frees what the loader wrote.
  if (fallocate(ram_.fd(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, static_cast<off_t>(ram_.size())) != 0) {
    ForEachDataPage(ram_, [&](uint64_t offset, const uint8_t*) { std::memset(ram_.host() + offset, 0, kPageBytes); });
  }
  for (size_t i = 0; i < image.pages.size(); ++i) {
    std::memcpy(ram_.host() + image.pages[i] * kPageBytes, image.page_bytes.data() + i * kPageBytes, kPageBytes);
  }
  ram_.ClearCodeMarks();

  for (uint32_t v = 0; v < hart_count(); ++v) {
    const StateImage::HartState& s = image.harts[v];
    Hart& h = *harts_[v];
    std::copy(s.x.begin(), s.x.end(), h.x.begin());
    h.x[0] = 0;
    h.pc = s.pc;
    h.instret = s.instret;
    h.mstatus = s.mstatus;
    h.mie = s.mie;
    h.mtvec = s.mtvec;
    h.mscratch = s.mscratch;
    h.mepc = s.mepc;
    h.mcause = s.mcause;
    h.mtval = s.mtval;
    h.minstret_offset = s.minstret_offset;
    h.mcycle_offset = s.mcycle_offset;
    h.RestoreLastException(s.last_exception_at);
    if (s.reservation) {
      // No store has broken it: it holds against the fresh RAM's version of its slot.
      if (!h.reservation) ram_.reservations_held().fetch_add(1, std::memory_order_seq_cst);
      const uint64_t version = ram_.ReservationVersion(s.reservation->offset).load(std::memory_order_seq_cst);
      h.reservation = Hart::Reservation{s.reservation->offset, s.reservation->value, version, s.reservation->doubleword};
    }
    board_.clint().Restore(v, {s.msip, s.mtimecmp, s.latest_mtime});
    HartRun& run = *runs_[v];
    run.sleeping = s.sleeping;
    run.published.store(s.instret, std::memory_order_relaxed);
    if (run.spin_sample_at != replay::kNever) run.spin_sample_at = s.instret;
    if (gate_) gate_->Publish(v, s.instret);
    // Whatever the restored CSRs and CLINT make pending is looked at before the first block.
    h.NoteAttention(kAttentionInterrupt);
  }
  board_.uart().Restore({image.uart.ier, image.uart.lcr, image.uart.mcr, image.uart.scr, image.uart.dll, image.uart.dlm});
  board_.console().Restore({image.console, std::string(image.console_pending.begin(), image.console_pending.end())});
  cuts_taken_.store(image.checkpoint_ordinal, std::memory_order_relaxed);
}

}  // namespace rrkit::emu
