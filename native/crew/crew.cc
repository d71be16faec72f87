#include "crew/crew.h"

#include <sched.h>

#include <algorithm>
#include <stdexcept>
#include <string>
#include <utility>

namespace rrkit::crew {
namespace {

// Waiting for a running holder: spin briefly, then yield the core a few times, then sleep.
// Measured on 2 cores (docs/crew.md, "Waiting"): with 4 or 8 vCPU threads, yielding
// halves the recording time of lock-counter and false-sharing (the holder often waits
// for this very core); with 2 it changes nothing.
constexpr int kSpinBeforeYield = 200;  // about 1-5 us
constexpr int kYieldsBeforeSleep = 20;

inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

}  // namespace

Crew::Crew(PageGeometry geometry, std::vector<VcpuHooks> hooks, TransferSink sink, uint64_t hold, AlongSink along_sink)
    : geometry_(geometry), sink_(std::move(sink)), hold_(hold), along_sink_(std::move(along_sink)) {
  if (hooks.empty()) throw std::invalid_argument("CREW needs at least one vCPU");
  for (const VcpuHooks& h : hooks) {
    if (h.attention == nullptr || h.attention_bit == 0) {
      throw std::invalid_argument("CREW: every vCPU needs an attention word and a nonzero bit");
    }
    vcpus_.push_back(std::make_unique<Vcpu>(geometry_.page_count(), h));
  }
}

bool Crew::Acquire(uint32_t vcpu, uint64_t page, bool want_write, uint64_t count, uint32_t along) {
  Grant grant = Request(vcpu, page, want_write, count, along);
  if (grant == Grant::kPending) {
    // The holder is usually a block away from its boundary: a short wait saves a sleep and
    // a wake-up. The lock still decides.
    Vcpu& me = *vcpus_[vcpu];
    for (int i = 0; i < kSpinBeforeYield && me.waiting_grant.load(std::memory_order_acquire); ++i) CpuRelax();
    for (int i = 0; i < kYieldsBeforeSleep && me.waiting_grant.load(std::memory_order_acquire); ++i) sched_yield();
    {
      std::unique_lock lock(mutex_);
      me.granted.wait(lock, [&] { return !me.request.active || stopped_; });
    }
    grant = Resume(vcpu);
  }
  return grant == Grant::kGranted;
}

Grant Crew::Request(uint32_t vcpu, uint64_t page, bool want_write, uint64_t count, uint32_t along) {
  const Access want = want_write ? Access::kWrite : Access::kRead;
  if (vcpu >= vcpus_.size() || page >= geometry_.page_count()) {
    throw std::out_of_range("CREW Acquire: vcpu " + std::to_string(vcpu) + " page " + std::to_string(page) +
                            " outside the machine");
  }
  std::lock_guard lock(mutex_);
  if (stopped_) return Grant::kStopped;
  Vcpu& me = *vcpus_[vcpu];
  if (me.request.active) throw std::logic_error("CREW: vcpu " + std::to_string(vcpu) + " already waits for a page");
  const OwnershipTable::Holding holding = ownership_.HoldingOf(page, vcpu);
  if (holding.mine >= want) {  // nothing to transfer
    SetRights(me, page, holding.mine);
    // A write BeginTurn made fault: the other members holding the page hear of it.
    if (want == Access::kWrite && holding.others != 0) NoteShared(vcpu, page, want, false);
    return Grant::kGranted;
  }
  // Stopped at an instruction boundary: from here on others may take our pages, and we
  // first give them what they asked for, so that two vCPUs faulting on each other's pages
  // both progress.
  me.state = State::kWaiting;
  me.parked_at = count;
  if (!me.has_ticket || me.ticket_count != count) {  // a new instruction: the back of the queue
    DropTicket(me);
    me.has_ticket = true;
    me.ticket = next_ticket_++;
    me.ticket_count = count;
  }
  ServeRequests(vcpu, count, Keep::kPinned);
  me.request = PageRequest{true, page, want, count, along, !ownership_.Touched(page)};
  ++active_requests_;
  me.waiting_grant.store(true, std::memory_order_relaxed);
  requesting_ = vcpu;
  Settle();
  requesting_ = kNobody;
  if (me.request.active) return Grant::kPending;
  me.state = State::kRunning;  // granted at once: it never stopped being on its thread
  return Grant::kGranted;
}

Grant Crew::Resume(uint32_t vcpu) {
  std::lock_guard lock(mutex_);
  Vcpu& me = *vcpus_[vcpu];
  if (stopped_) {
    if (me.request.active) {
      me.request = PageRequest{};
      --active_requests_;
      me.waiting_grant.store(false, std::memory_order_relaxed);
    }
    me.state = State::kRunning;
    return Grant::kStopped;
  }
  if (me.request.active) return Grant::kPending;
  if (me.state == State::kWaiting) {
    me.state = State::kRunning;
    // Requests that its pins held back can now be posted to it.
    Settle();
  }
  return Grant::kGranted;
}

uint64_t Crew::Poll(uint32_t vcpu, uint64_t count) {
  Vcpu& me = *vcpus_[vcpu];
  // Clear before serving: a request posted after this sets the bit again.
  me.hooks.attention->fetch_and(~me.hooks.attention_bit, std::memory_order_acq_rel);
  std::lock_guard lock(mutex_);
  if (me.ticket_count != count) DropTicket(me);  // it has executed that instruction
  polling_ = vcpu;
  polling_at_ = count;
  const uint64_t again = ServeRequests(vcpu, count, Keep::kHeld);
  Settle();
  polling_ = kNobody;
  return again;
}

void Crew::Park(uint32_t vcpu, uint64_t count, ParkReason reason) {
  std::lock_guard lock(mutex_);
  Vcpu& me = *vcpus_[vcpu];
  if (me.request.active) throw std::logic_error("CREW: vcpu " + std::to_string(vcpu) + " parks while it waits for a page");
  if (reason == ParkReason::kSpinWait && !me.hooks.wake) {
    throw std::invalid_argument("CREW: vCPU " + std::to_string(vcpu) + " has no wake hook to park with kSpinWait");
  }
  me.state = State::kParked;
  me.parked_at = count;
  me.park_reason = reason;
  DropTicket(me);  // a parked vCPU may never come back: nobody may wait for it
  ServeRequests(vcpu, count, Keep::kNothing);
  if (reason == ParkReason::kSpinWait && me.changes != me.changes_when_unparked) {
    // Its own thread is about to sleep on the word: setting the bit is enough to stop it.
    SetAttention(me);
  }
  Settle();
}

void Crew::Unpark(uint32_t vcpu) {
  std::lock_guard lock(mutex_);
  UnparkLocked(*vcpus_[vcpu]);
}

void Crew::UnparkForTurn(uint32_t vcpu) {
  std::lock_guard lock(mutex_);
  Vcpu& me = *vcpus_[vcpu];
  UnparkLocked(me);
  BeginTurnLocked(me, vcpu);
}

void Crew::UnparkLocked(Vcpu& me) {
  me.state = State::kRunning;
  me.park_reason = ParkReason::kBlocked;
  me.changes_when_unparked = me.changes;
}

void Crew::Stop() {
  std::lock_guard lock(mutex_);
  stopped_ = true;
  for (auto& v : vcpus_) v->granted.notify_all();
}

// Yields to every vCPU that asked `vcpu` for a page, except what `keep` protects: pages
// pinned for the instruction it waits on (their requesters stay asked, and its attention
// bit stays set, so it serves them at its next Poll), or pages still within their hold
// (returns the earliest count at which one is due; the engine polls again there).
uint64_t Crew::ServeRequests(uint32_t vcpu, uint64_t count, Keep keep) {
  Vcpu& me = *vcpus_[vcpu];
  serving_.clear();
  std::swap(serving_, me.asked_by);  // both keep their capacity
  uint64_t again = kNoDeferral;
  for (uint32_t requester : serving_) {
    if (!vcpus_[requester]->request.active) continue;
    const uint64_t page = vcpus_[requester]->request.page;
    if (keep == Keep::kPinned && Keeps(vcpu, page, requester)) {
      me.asked_by.push_back(requester);
      continue;
    }
    if (keep == Keep::kHeld) {
      const uint64_t until = HeldUntil(me, page);
      if (count < until) {
        me.asked_by.push_back(requester);
        again = std::min(again, until);
        continue;
      }
    }
    YieldTo(vcpu, count, requester);
  }
  return again;
}

// The count until which `v` holds `page` against requests: its grant plus the hold.
uint64_t Crew::HeldUntil(const Vcpu& v, uint64_t page) const {
  for (const Vcpu::Grant& g : v.recent_grants) {
    if (g.page == page) return g.count + hold_;
  }
  return 0;
}

// While `holder` waits in Acquire, a page granted for the same instruction stays its
// against younger requesters: otherwise an instruction touching two pages can lose the
// first to the queue each time it waits for the second, and never run.
bool Crew::Keeps(uint32_t holder, uint64_t page, uint32_t requester) const {
  const Vcpu& h = *vcpus_[holder];
  if (h.state != State::kWaiting || !h.has_ticket || h.ticket > vcpus_[requester]->ticket) return false;
  return std::find(h.pinned.begin(), h.pinned.end(), page) != h.pinned.end();
}

void Crew::SetRights(Vcpu& v, uint64_t page, Access access) {
  v.table.Set(page, access);
  if (v.hooks.rights_changed) v.hooks.rights_changed(page, access);
}

void Crew::SetAttention(Vcpu& v) { v.hooks.attention->fetch_or(v.hooks.attention_bit, std::memory_order_release); }

void Crew::DropTicket(Vcpu& v) {
  v.has_ticket = false;
  v.pinned.clear();
}

// Retries every waiting request, oldest first, until a pass grants nothing: a grant or a
// yield can unblock any of them (an older request gone, a holder now running and so
// askable), and retrying all is cheaper to get right than tracking who waits for whom.
void Crew::Settle() {
  // Most calls find nothing waiting (a park or a poll in a serialized turn, every few dozen
  // instructions on a handshake): then not even a look at every vCPU.
  if (active_requests_ == 0) return;
  for (bool progress = true; progress;) {
    progress = false;
    by_age_.clear();
    for (uint32_t v = 0; v < vcpus_.size(); ++v) {
      if (vcpus_[v]->request.active) by_age_.push_back(v);
    }
    std::sort(by_age_.begin(), by_age_.end(), [&](uint32_t a, uint32_t b) { return vcpus_[a]->ticket < vcpus_[b]->ticket; });
    for (uint32_t v : by_age_) progress |= TryComplete(v);
  }
}

void Crew::YieldTo(uint32_t holder, uint64_t at, uint32_t requester) {
  PageRequest& req = vcpus_[requester]->request;
  const Access keep = req.want == Access::kWrite ? Access::kNone : Access::kRead;
  ownership_.Yield(req.page, holder, keep, at);
  if (keep == Access::kNone) ++vcpus_[holder]->changes;
  SetRights(*vcpus_[holder], req.page, ownership_.HolderAccess(req.page, holder));
}

bool Crew::TryComplete(uint32_t vcpu) {
  Vcpu& me = *vcpus_[vcpu];
  PageRequest& req = me.request;
  if (!req.active) return false;
  // An older conflicting request on the page goes first; its grant retries this one. Without
  // this, readers that re-read the page as soon as they yielded it starve a writer.
  for (uint32_t u = 0; u < vcpus_.size(); ++u) {
    const Vcpu& other = *vcpus_[u];
    if (u != vcpu && other.request.active && other.request.page == req.page && other.ticket < me.ticket &&
        (other.request.want == Access::kWrite || req.want == Access::kWrite)) {
      return false;
    }
  }
  ownership_.Conflicts(req.page, vcpu, req.want, conflicts_);
  for (uint32_t h : conflicts_) {
    if (Keeps(h, req.page, vcpu)) return false;  // an older waiting instruction needs it
  }
  bool must_wait = false;
  bool shared = false;
  for (uint32_t h : conflicts_) {
    Vcpu& holder = *vcpus_[h];
    if (Shares(vcpu, h)) {  // a member of the group whose turn `vcpu` holds: it keeps its rights
      shared = true;
      continue;
    }
    if (holder.state != State::kRunning) {
      YieldTo(h, holder.parked_at, vcpu);  // it is stopped at parked_at: take, no help needed
      // A spinner loses what it reads only to a writer; a reader leaves the values as they were.
      if (holder.state == State::kParked && holder.park_reason == ParkReason::kSpinWait && req.want == Access::kWrite) {
        SetAttention(holder);
        holder.hooks.wake();
      }
      continue;
    }
    must_wait = true;
    if (std::find(holder.asked_by.begin(), holder.asked_by.end(), vcpu) == holder.asked_by.end()) {
      holder.asked_by.push_back(vcpu);
      SetAttention(holder);
    }
  }
  if (must_wait) return false;
  for (const Landmark& from : ownership_.Grant(req.page, vcpu, req.want, req.count, shared)) {
    sink_(TransferEdge{req.page, from.vcpu, from.count, vcpu, req.count});
  }
  SetRights(me, req.page, req.want);
  if (shared) NoteShared(vcpu, req.page, req.want, true);
  if (req.along > 0) GrantAlong(vcpu, req);
  me.pinned.push_back(req.page);
  if (hold_ > 0) {  // expired grants go here, where the list grows
    std::erase_if(me.recent_grants, [&](const Vcpu::Grant& g) { return g.page == req.page || req.count - g.count >= hold_; });
    me.recent_grants.push_back({req.page, req.count});
  }
  req = PageRequest{};
  --active_requests_;
  me.waiting_grant.store(false, std::memory_order_release);
  // It stays stopped before its instruction (kWaiting, keeping what it pinned against
  // younger requests) until Resume puts it back on its thread.
  me.granted.notify_one();
  // Not for a request granted inside its own Request: its vCPU is running and learns it
  // from the answer (a wake-up would only make it run a spurious slice later).
  if (me.hooks.granted && vcpu != requesting_) me.hooks.granted();
  return true;
}

// `vcpu`, holding its group's turn, shares `page` with the other members holding it: each
// remembers the page when it is `granted` (BeginTurn, Unshare; a write that faults only
// because BeginTurn lowered the right finds every holder remembering it since the grant
// that made it shared). A write may change what they spin on: those
// parked spinning are woken as if the page had been taken from them, except the members
// the serializer only marks as wanting the turn (all in one call: TurnSharing), and one
// about to park learns of it there (`changes`).
void Crew::NoteShared(uint32_t vcpu, uint64_t page, Access want, bool granted) {
  const auto remember = [&](Vcpu& v) {
    if (!granted) return;
    if (std::find(v.shared_pages.begin(), v.shared_pages.end(), page) == v.shared_pages.end()) v.shared_pages.push_back(page);
  };
  remember(*vcpus_[vcpu]);
  spinners_.clear();
  ownership_.ForOtherHolders(page, vcpu, [&](uint32_t h) {
    Vcpu& other = *vcpus_[h];
    remember(other);
    if (want != Access::kWrite) return;
    ++other.changes;
    if (other.state == State::kParked && other.park_reason == ParkReason::kSpinWait) spinners_.push_back(h);
  });
  if (want != Access::kWrite) return;
  if (sharing_.wrote_shared) sharing_.wrote_shared(vcpu, spinners_);
  for (uint32_t h : spinners_) {
    SetAttention(*vcpus_[h]);
    vcpus_[h]->hooks.wake();
  }
}

void Crew::BeginTurn(uint32_t vcpu) {
  std::lock_guard lock(mutex_);
  BeginTurnLocked(*vcpus_[vcpu], vcpu);
}

void Crew::BeginTurnLocked(Vcpu& me, uint32_t vcpu) {
  std::erase_if(me.shared_pages, [&](uint64_t page) {
    const OwnershipTable::Holding holding = ownership_.HoldingOf(page, vcpu);
    if (holding.mine == Access::kNone) return true;  // taken since
    if (holding.mine == Access::kWrite && holding.others != 0) {
      SetRights(me, page, Access::kRead);  // its first write in this turn faults (Request)
    }
    return false;
  });
}

void Crew::Unshare(uint32_t vcpu, uint64_t count) {
  std::lock_guard lock(mutex_);
  Vcpu& me = *vcpus_[vcpu];
  if (me.shared_pages.empty()) return;
  for (uint64_t page : me.shared_pages) {
    if (ownership_.HolderAccess(page, vcpu) == Access::kNone) continue;
    ownership_.Yield(page, vcpu, Access::kNone, count);
    ++me.changes;
    SetRights(me, page, Access::kNone);
  }
  me.shared_pages.clear();
  Settle();  // a request waiting for these pages may go on
}

// Whether `vcpu` is stopped at a landmark now, and which: waiting, parked, or polling.
bool Crew::StoppedAt(uint32_t vcpu, uint64_t& count) const {
  const Vcpu& v = *vcpus_[vcpu];
  if (v.state != State::kRunning) {
    count = v.parked_at;
    return true;
  }
  if (polling_ == vcpu) {
    count = polling_at_;
    return true;
  }
  return false;
}

// `req` was just granted: the same access on the pages after it, while each can be had at
// once. Nobody waits here, so the protocol's waits (and the argument that they end) are
// unchanged; each page is granted as a request would be (yields at the holders' landmarks,
// edges from the page's history), at the landmark where `vcpu` stopped.
void Crew::GrantAlong(uint32_t vcpu, const PageRequest& req) {
  Vcpu& me = *vcpus_[vcpu];
  const uint64_t end = std::min(geometry_.page_count(), req.page + 1 + req.along);
  for (uint64_t page = req.page + 1; page < end; ++page) {
    if (ownership_.HolderAccess(page, vcpu) >= req.want) continue;
    if (ownership_.Touched(page) == req.first_touch) break;  // not like the requested page
    bool requested = false;
    for (const auto& other : vcpus_) requested = requested || (other->request.active && other->request.page == page);
    if (requested) break;
    const std::vector<uint32_t> conflicts = ownership_.Conflicts(page, vcpu, req.want);
    bool stopped = true;
    for (uint32_t h : conflicts) {
      uint64_t at = 0;
      // Never a page a waiting vCPU gained for the instruction it waits on (it would stop
      // on it again), nor one still within its hold.
      const Vcpu& holder = *vcpus_[h];
      const bool pinned = holder.state == State::kWaiting && std::find(holder.pinned.begin(), holder.pinned.end(), page) != holder.pinned.end();
      stopped = stopped && StoppedAt(h, at) && !pinned && at >= HeldUntil(holder, page);
    }
    if (!stopped) break;
    for (uint32_t h : conflicts) {
      Vcpu& holder = *vcpus_[h];
      uint64_t at = 0;
      StoppedAt(h, at);
      ownership_.Yield(page, h, req.want == Access::kWrite ? Access::kNone : Access::kRead, at);
      ++holder.changes;
      SetRights(holder, page, ownership_.HolderAccess(page, h));
      if (holder.state == State::kParked && holder.park_reason == ParkReason::kSpinWait) {
        SetAttention(holder);
        holder.hooks.wake();
      }
    }
    const std::vector<Landmark>& from = ownership_.Grant(page, vcpu, req.want, req.count);
    for (const Landmark& l : from) sink_(TransferEdge{page, l.vcpu, l.count, vcpu, req.count});
    SetRights(me, page, req.want);
    if (along_sink_) along_sink_(AlongGrant{page, vcpu, req.count, req.want == Access::kWrite, static_cast<uint32_t>(from.size())});
  }
}

}  // namespace rrkit::crew
