// The CREW transfer protocol for recording: concurrent read, exclusive write, per page.
//
// What the engine does, per vCPU thread (see docs/crew.md):
//   - before every guest memory access (atomics and LR/SC count as writes):
//       if (!crew.Permissions(v).Allows(page, write)) crew.Acquire(v, page, write, count);
//     at the instruction boundary, before the access has any effect; `count` is the number
//     of instructions the vCPU has retired. An engine that runs vCPUs M:N on fewer threads
//     must not block a thread: it calls Request instead, gives the thread to another vCPU
//     when the answer is kPending, and calls Resume when hooks.granted says so.
//   - at every block boundary: if (attention & hooks.attention_bit) crew.Poll(v, count);
//     and again when the vCPU reaches the count Poll returned, if any (the hold, below).
//   - around anything that blocks the vCPU (wfi, a parked hart, a stopped machine, waiting
//     on the host): hold a Crew::Parked (or call Park/Unpark), so that others can take
//     pages from it without its help. A vCPU in a guest spin-wait parks with kSpinWait
//     and sleeps on its attention word: what it spins on in RAM can only change once it
//     has given up a page, so CREW sets its attention bit (and calls `wake`) when a page is
//     taken from it while parked, and at once if it gave any up since it last parked.
//   - when the machine stops: crew.Stop(), which releases any vCPU waiting in Acquire.
//
// Fairness (docs/crew.md, "Fairness"): every faulting instruction gets a ticket, kept
// until the vCPU moves past it. A request waits behind older conflicting requests on its
// page, and a vCPU waiting in Acquire keeps the pages it gained for its current
// instruction against younger requests. Deadlock freedom: a vCPU sleeps only for a running
// holder (which reaches a block boundary, Poll, or parks soon) or for an older waiting
// ticket; the oldest waits only for running holders, so it always gets through. Parked
// vCPUs never have to act: whoever needs their pages takes them, at the count where they
// parked.
//
// Serialized groups (TurnSharing; docs/crew.md, "Pages shared within a group"): the holder
// of a group's turn shares a page its fellow members hold instead of taking it; a vCPU
// outside the group takes it from all of them; a member that left gives it up (Unshare).
//
// Hold (docs/crew.md, "Holding"): a running vCPU keeps a page it was granted until it has
// retired `hold` more instructions; Poll defers requests for such pages and returns the
// count at which to poll again. Waiting and parked vCPUs hold nothing against anyone.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "crew/ownership_table.h"
#include "crew/page_geometry.h"
#include "crew/permission_table.h"
#include "crew/transfer_edge.h"

namespace rrkit::crew {

// What the engine gives CREW for each vCPU: the word its run loop checks at every block
// boundary, and the bit of it that CREW may set.
struct VcpuHooks {
  std::atomic<uint32_t>* attention;
  uint32_t attention_bit;
  // Wakes the vCPU's thread if it sleeps on `attention` (called with CREW's lock held).
  // Only needed for parking with kSpinWait.
  std::function<void()> wake = {};
  // Called (with CREW's lock held) after every change to the vCPU's rights on a page, for
  // an engine that enforces rights outside the table (kvm: host page protection). Only
  // while the vCPU cannot be accessing memory (it is waiting, parked or polling), as for
  // the table itself.
  std::function<void(uint64_t page, Access access)> rights_changed = {};
  // A request that Request() left pending has been granted: the engine should run the
  // vCPU again and call Resume() (called with CREW's lock held). Only needed with Request.
  std::function<void()> granted = {};
};

// Serialized mode (serializer.h): a group's members run one at a time, in the order its
// turn switches record, so the member holding the turn may share a page with the others
// instead of taking it from them (docs/crew.md, "Pages shared within a group"). Both
// hooks are called with CREW's lock held.
struct TurnSharing {
  // Whether `requester` holds the turn of a serialized group of which `holder` is a member.
  std::function<bool(uint32_t requester, uint32_t holder)> shares;
  // `vcpu` writes a page that other members of its group hold (in this turn, its first
  // write of that page). `spinners`: those holders parked spinning, which CREW then wakes
  // (attention bit and hooks.wake) as if the page had been taken from them; the hook
  // removes those that need no wake-up (the serializer: members without the turn, which
  // now only want it; docs/crew.md, "Handing the turn over"). Empty: every one is woken.
  std::function<void(uint32_t vcpu, std::vector<uint32_t>& spinners)> wrote_shared;
};

// What a request came to.
enum class Grant {
  kGranted,  // the vCPU has the right and is running: execute the instruction now
  kPending,  // it waits, stopped before the instruction (hooks.granted, then Resume)
  kStopped,  // Stop() was called
};

// Why a vCPU parks: it is blocked (wfi, a cut, a hart done), woken by the engine; or it
// spins in the guest, and CREW wakes it when what it spins on may have changed.
enum class ParkReason { kBlocked, kSpinWait };

class Crew {
 public:
  // Poll's answer when it deferred nothing.
  static constexpr uint64_t kNoDeferral = UINT64_MAX;

  // `along_sink` hears of every page granted along with a requested one (Acquire's `along`).
  Crew(PageGeometry geometry, std::vector<VcpuHooks> hooks, TransferSink sink, uint64_t hold = 0, AlongSink along_sink = {});
  Crew(const Crew&) = delete;
  Crew& operator=(const Crew&) = delete;

  const PageGeometry& geometry() const { return geometry_; }
  uint32_t vcpu_count() const { return static_cast<uint32_t>(vcpus_.size()); }

  // The fast path's table for `vcpu`; only that vCPU's thread should check it.
  const PermissionTable& Permissions(uint32_t vcpu) const { return vcpus_[vcpu]->table; }

  // Gains read (or write) on `page` for `vcpu`, stopped before the instruction at `count`.
  // Blocks until every conflicting holder has yielded. Returns false if Stop() was called.
  //
  // `along` (an engine whose stops are dear, kvm): once `page` is granted, the same access
  // on up to `along` following pages too, at the same count, as long as that needs no
  // wait (docs/crew.md, "Grants along a stop"): each must be like `page` was (never
  // touched if it was not), and every holder that must yield it stopped at a landmark
  // (waiting, parked, or the vCPU serving this request at its Poll), with no request on it.
  bool Acquire(uint32_t vcpu, uint64_t page, bool want_write, uint64_t count, uint32_t along = 0);

  // Acquire without blocking, for engines that run vCPUs M:N. kPending: the vCPU now waits,
  // stopped at `count` like a parked one (others take its pages, except those it was granted
  // for this instruction, which it keeps against younger requests); once its request is
  // granted, hooks.granted is called, and the engine calls Resume when the vCPU has a
  // thread again.
  Grant Request(uint32_t vcpu, uint64_t page, bool want_write, uint64_t count, uint32_t along = 0);
  // The waiting vCPU is back on a thread: kGranted (it runs again; a page granted to it
  // may have been taken since by an older request, so the instruction may fault again,
  // which keeps its place in the queue), kPending (not granted yet) or kStopped.
  Grant Resume(uint32_t vcpu);
  // Whether `vcpu`'s request is still pending (for a short spin before giving the thread up).
  bool Pending(uint32_t vcpu) const { return vcpus_[vcpu]->waiting_grant.load(std::memory_order_acquire); }

  // At a block boundary, after seeing the attention bit: yields what others asked for,
  // except pages granted to `vcpu` less than `hold` instructions ago. Returns the count at
  // which to poll again for those, or kNoDeferral.
  uint64_t Poll(uint32_t vcpu, uint64_t count);

  // `vcpu` stops executing at `count` until Unpark(); meanwhile its pages can be taken.
  // kSpinWait: taking one sets the vCPU's attention bit and calls hooks.wake, and so does
  // Park itself if the vCPU yielded any page since it was last unparked (at a Poll, or in
  // this Park), since the value it spun on may then have changed already. A page it keeps
  // reading (a writer downgraded by a reader) does not count: a read changes nothing.
  void Park(uint32_t vcpu, uint64_t count, ParkReason reason = ParkReason::kBlocked);
  void Unpark(uint32_t vcpu);
  // Unpark and BeginTurn under one lock: a serialized member starting its turn.
  void UnparkForTurn(uint32_t vcpu);

  class Parked {
   public:
    Parked(Crew& crew, uint32_t vcpu, uint64_t count, ParkReason reason = ParkReason::kBlocked) : crew_(crew), vcpu_(vcpu) {
      crew_.Park(vcpu, count, reason);
    }
    ~Parked() { crew_.Unpark(vcpu_); }
    Parked(const Parked&) = delete;
    Parked& operator=(const Parked&) = delete;

   private:
    Crew& crew_;
    uint32_t vcpu_;
  };

  // The machine is stopping: every Acquire, waiting or future, returns false.
  void Stop();

  // Serialized mode: share pages within groups (TurnSharing). Before any vCPU runs.
  void ShareWithinTurns(TurnSharing sharing) { sharing_ = std::move(sharing); }
  // `vcpu` (its own thread) starts a turn in its group: its next write of each page it
  // shares with other members faults once (Request finds nothing to transfer), so that
  // members spinning on the page learn of it, and the serializer that the turn shared.
  void BeginTurn(uint32_t vcpu);
  // `vcpu` left the group in which it shares pages, and stands at `count` where it left,
  // not having executed since: it gives every shared page up there, before it executes
  // again (outside that group, nothing orders its accesses with the other members').
  void Unshare(uint32_t vcpu, uint64_t count);

 private:
  enum class State { kRunning, kWaiting, kParked };

  struct PageRequest {
    bool active = false;
    uint64_t page = 0;
    Access want = Access::kNone;
    uint64_t count = 0;
    uint32_t along = 0;
    bool first_touch = false;  // nobody had touched `page` when it was asked for
  };

  struct Vcpu {
    explicit Vcpu(uint64_t pages, VcpuHooks h) : table(pages), hooks(h) {}
    PermissionTable table;
    VcpuHooks hooks;
    State state = State::kRunning;
    uint64_t parked_at = 0;            // valid unless running
    ParkReason park_reason = ParkReason::kBlocked;  // valid while parked
    // Pages it has lost every right to (not downgrades), or that a member of its group wrote
    // while it shared them, ever: what it spins on may have changed.
    uint64_t changes = 0;
    uint64_t changes_when_unparked = 0;  // `changes` at its last Unpark
    std::vector<uint64_t> shared_pages;  // pages it has shared in its group (some maybe lost since)
    PageRequest request;               // valid while waiting
    // The instruction it faulted on: its age in the queue (smaller is older) and the pages
    // granted for it, which it keeps against younger requests while it waits for another.
    bool has_ticket = false;
    uint64_t ticket = 0;
    uint64_t ticket_count = 0;         // the instruction the ticket belongs to
    std::vector<uint64_t> pinned;
    std::atomic<bool> waiting_grant{false};  // mirrors request.active, for spinning unlocked
    std::vector<uint32_t> asked_by;    // vCPUs whose requests this one must serve at Poll
    struct Grant {
      uint64_t page;
      uint64_t count;
    };
    std::vector<Grant> recent_grants;  // recent grants; those past their hold go at the next grant
    std::condition_variable granted;
  };

  enum class Keep { kNothing, kPinned, kHeld };
  uint64_t ServeRequests(uint32_t vcpu, uint64_t count, Keep keep);
  uint64_t HeldUntil(const Vcpu& v, uint64_t page) const;
  bool TryComplete(uint32_t vcpu);
  void GrantAlong(uint32_t vcpu, const PageRequest& req);
  bool StoppedAt(uint32_t vcpu, uint64_t& count) const;
  void Settle();
  bool Keeps(uint32_t holder, uint64_t page, uint32_t requester) const;
  void DropTicket(Vcpu& v);
  static void SetAttention(Vcpu& v);
  static void SetRights(Vcpu& v, uint64_t page, Access access);
  void YieldTo(uint32_t holder, uint64_t at, uint32_t requester);
  bool Shares(uint32_t requester, uint32_t holder) const { return sharing_.shares && sharing_.shares(requester, holder); }
  void NoteShared(uint32_t vcpu, uint64_t page, Access want, bool granted);
  void BeginTurnLocked(Vcpu& me, uint32_t vcpu);
  void UnparkLocked(Vcpu& me);

  PageGeometry geometry_;
  TransferSink sink_;
  uint64_t hold_;
  AlongSink along_sink_;
  TurnSharing sharing_;
  std::vector<std::unique_ptr<Vcpu>> vcpus_;

  std::mutex mutex_;  // guards everything below and every Vcpu's slow-path fields
  OwnershipTable ownership_;
  uint64_t next_ticket_ = 0;
  size_t active_requests_ = 0;       // vCPUs whose request.active is set
  std::vector<uint32_t> by_age_;     // scratch for Settle
  std::vector<uint32_t> conflicts_;  // ... for TryComplete
  std::vector<uint32_t> serving_;    // ... for ServeRequests
  std::vector<uint32_t> spinners_;   // ... for NoteShared
  bool stopped_ = false;
  static constexpr uint32_t kNobody = UINT32_MAX;
  // The vCPU inside Poll, and its count: a landmark where it can yield more than was asked.
  uint32_t polling_ = kNobody;
  uint64_t polling_at_ = 0;
  // The vCPU inside Request: granted there, it needs no hooks.granted.
  uint32_t requesting_ = kNobody;
};

}  // namespace rrkit::crew
