// Serialized mode for recording (docs/crew.md, "Serialized mode"): when a set of vCPUs
// trades pages so often that running them in parallel is worthless, they form a group of
// which one runs at a time (holds the turn) for a quantum of its instructions; the log then
// holds only the group's mode switches and turn switches (serial_records.h), not the
// transfers among its members, which the turn order implies. Transfers between a member
// and a vCPU outside the group are CREW edges as usual.
//
// What the engine does, per vCPU, at block boundaries (the vCPU's own thread):
//   - MustStop(v): it was asked (hooks.stop) to stop for a group; Stopped(v, count), park
//     it in CREW, and let it wait;
//   - before it executes after waiting: HoldsTurn(v) (the turn was handed to it), or else
//     WantTurn(v, count); false: it waits (hooks.wake or hooks.hand_over);
//   - the holder, at TurnEnd(v): EndTurn(v, count, kQuantum); false: park it, it waits;
//   - the holder, before it spins (a spin-wait hint, or a detected spin) or sleeps in wfi:
//     EndTurn(v, count, kIdle), then park it as it would anyway; when it wakes, WantTurn.
//     CREW taking a page from such a spinner: WantsTurnWhileParked(v), and wake it only
//     when that says false.
// CREW's transfer sink asks OnTransfer(edge) whether to log each edge. With share_pages,
// CREW asks Shares(requester, holder) whether a member keeps a page the holder is granted,
// and says WroteShared(v, spinners) when the holder first writes a shared page in its turn
// (the serializer keeps, of the members parked spinning on it, those to wake); a vCPU
// about to execute after a turn ends or a wait for one asks TakeLeft(v), and when true gives
// up what it shared (Crew::Unshare), and when InGroup(v), lowers its shared rights for the
// turn (Crew::BeginTurn).
//
// Every record is written while no member of its group executes: at a turn end (the
// holder stopped), when a member joins (it stopped, and the holder is stopped or idle), or
// when the group forms (all its members stopped). So a group's records are in the order
// of its events, and replay can follow them one after another (turn_follower.h).
//
// Policy: a page that changes hands more than enter_transfers_per_million times per
// million instructions of the vCPUs holding it forms a group of those vCPUs (or adds them
// to the group one of them is in); vCPUs just back from a probe come back as soon as the
// page has changed hands as often as a hot window needs. A group returns to parallel CREW after `probe`
// instructions of turns, to measure again (doubled each time it forms again at once), or
// at once when its members have shared nothing in `idle_turns` turns in a row. Only
// recording decides: whatever the policy sees (host timing included) reaches replay only
// through the records.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <vector>

#include "crew/serial_records.h"
#include "crew/transfer_edge.h"

namespace rrkit::crew {

struct SerializerOptions {
  // Enter: transfers of one page per million instructions of the vCPUs holding it, over a
  // window of `window` instructions of one of them. 0: never serialize.
  uint64_t enter_transfers_per_million = 50;
  uint64_t window = 500'000;
  // A turn: this many instructions of the holder (fewer when it spins or sleeps).
  uint64_t quantum = 200'000;
  // Leave: after this many instructions of turns (the group's total), doubled each time the
  // group forms again within that many instructions, up to max_probe.
  uint64_t probe = 20'000'000;
  uint64_t max_probe = uint64_t{1} << 32;
  // Leave at once when this many turns in a row took no page from another member (nor
  // wrote one that another member shares).
  uint64_t idle_turns = 32;
  // The members share the group's pages instead of trading them at every turn (CREW's
  // TurnSharing; docs/crew.md, "Pages shared within a group"). Timing only.
  bool share_pages = true;
};

// What the Serializer asks of the engine. Called with the Serializer's lock held: quick,
// and never back into the Serializer or CREW.
struct SerializerHooks {
  std::function<void(uint32_t vcpu)> stop;  // stop at the next block boundary (MustStop is true)
  std::function<void(uint32_t vcpu)> wake;  // it may run: it calls WantTurn
  // The turn passes to `vcpu` from the calling vCPU, which waits from here on (its turn
  // ended, or it joined): an engine running vCPUs M:N can run `vcpu` on the caller's thread
  // next. Empty: wake.
  std::function<void(uint32_t vcpu)> hand_over = {};
};

class Serializer {
 public:
  enum class Why { kQuantum, kIdle };

  Serializer(uint32_t vcpus, SerializerOptions options, SerialSink sink, SerializerHooks hooks);

  // CREW's transfer sink calls this for every edge (under CREW's lock): true when it must be
  // logged, false when the turn order implies it (from a member to the group's holder).
  bool OnTransfer(const TransferEdge& edge);

  // Cheap checks for the engine's run loop.
  bool MustStop(uint32_t vcpu) const { return vcpus_[vcpu]->must_stop.load(std::memory_order_acquire); }
  bool InGroup(uint32_t vcpu) const { return vcpus_[vcpu]->in_group.load(std::memory_order_acquire); }

  // The vCPU stopped at `count` as asked (`runnable`: it would execute, not sleep in wfi).
  // It waits until hooks.wake, then calls WantTurn.
  void Stopped(uint32_t vcpu, uint64_t count, bool runnable);
  // True: it may execute (it is free, or it holds its group's turn). False: it waits.
  bool WantTurn(uint32_t vcpu, uint64_t count);
  // CREW took a page from `vcpu`, parked where its idle turn ended (it spins), so what it
  // spins on may have changed. A member without the turn while another member holds it
  // now wants the turn, and needs its thread only when the turn comes (the turn's wake);
  // true then. False: the engine wakes it as usual (it is free, the idle holder, or its
  // group's holder is idle and it may take over at once).
  bool WantsTurnWhileParked(uint32_t vcpu);
  // CREW's TurnSharing (crew.h): whether `requester` holds the turn of a group of which
  // `holder` is a member; and the holder wrote a page other members hold (the turn shared).
  bool Shares(uint32_t requester, uint32_t holder) const;
  // ... and of `spinners`, the vCPUs parked spinning on that page, removes those that now
  // only want the turn (WantsTurnWhileParked, for all of them under one lock): CREW wakes
  // the rest.
  void WroteShared(uint32_t vcpu, std::vector<uint32_t>& spinners);
  // Whether `vcpu` has left a group since this was last asked: before it executes again it
  // gives up the pages it shared there (Crew::Unshare).
  bool TakeLeft(uint32_t vcpu) {
    std::atomic<bool>& left = vcpus_[vcpu]->left;
    return left.load(std::memory_order_acquire) && left.exchange(false, std::memory_order_acq_rel);
  }
  // The count at which the holder's quantum ends (kNever when it is not a holder).
  uint64_t TurnEnd(uint32_t vcpu) const { return vcpus_[vcpu]->turn_end.load(std::memory_order_acquire); }
  // Whether `vcpu` holds its group's turn, active: a turn handed to it is active from the
  // hand-over on (it stopped where its turn starts), and only the holder ends it, so a
  // vCPU that sees its own turn here may execute without asking WantTurn.
  bool HoldsTurn(uint32_t vcpu) const { return TurnEnd(vcpu) != kNever; }
  // The holder stops at `count`. True: it keeps the turn and runs on (kQuantum, nobody else
  // wants it; or the group dissolved). False: it waits (kIdle always waits). kIdle is also
  // for a member that does not hold the turn: it stops wanting it until it calls WantTurn.
  bool EndTurn(uint32_t vcpu, uint64_t count, Why why);

  struct Stats {
    uint64_t groups = 0;         // groups formed
    uint64_t turn_switches = 0;
    uint64_t mode_switches = 0;
    uint64_t implied_transfers = 0;  // edges not logged
  };
  Stats stats() const;

  static constexpr uint64_t kNever = UINT64_MAX;
  static constexpr uint64_t kNoGroup = UINT64_MAX;

 private:
  enum class Phase { kFree, kJoining, kMember };
  enum class Holder { kNone, kActive, kIdle };

  struct Vcpu {
    Phase phase = Phase::kFree;
    uint64_t group = kNoGroup;
    bool stopped = false;         // joining: it has stopped
    bool runnable = true;         // joining: it would execute when it gets the turn
    uint64_t stopped_at = 0;      // where it stopped (joining, or a member not holding the turn)
    bool wants_turn = false;      // a member waiting for the turn
    uint64_t next_probe = 0;      // the probe its next group gets
    uint64_t left_at = 0;         // its count when it last left a group
    bool left_by_probe = false;   // ... because the group's probe ran out
    std::atomic<bool> must_stop{false};
    std::atomic<bool> in_group{false};
    std::atomic<bool> left{false};  // it left a group (TakeLeft)
    std::atomic<uint64_t> turn_end{kNever};
  };

  struct Group {
    std::vector<uint32_t> members;  // joined (their records written), in join order
    std::vector<uint32_t> joining;  // asked to stop, not joined yet
    bool started = false;           // its first turn was given
    uint32_t holder = 0;
    Holder holder_state = Holder::kNone;
    uint64_t turn_start = 0;
    uint64_t serial_instructions = 0;
    uint64_t probe = 0;
    bool shared_this_turn = false;
    uint64_t turns_without_sharing = 0;
    std::optional<uint64_t> merge_into;
  };

  // A page's transfers over the current window: who held it and from which count.
  struct PageWindow {
    std::vector<std::pair<uint32_t, uint64_t>> since;
    uint64_t transfers = 0;
  };

  void NotePage(const TransferEdge& edge);
  bool BackFromProbe(uint32_t vcpu, uint64_t count) const;
  void Serialize(const std::vector<uint32_t>& vcpus);
  void AskToJoin(uint32_t vcpu, uint64_t group);
  void Advance(uint64_t group);
  void WriteJoins(Group& g, uint64_t id);
  void GiveTurn(Group& g, uint32_t from, uint64_t count, uint32_t to, bool wake);
  std::optional<uint32_t> NextWanting(const Group& g, uint32_t after) const;
  bool WantsTurnWhileParkedLocked(uint32_t vcpu);
  static bool WantsTurnWhileParkedIn(Vcpu& v, uint32_t vcpu, const Group& g);
  void Dissolve(uint64_t id, uint32_t holder, uint64_t count, bool wake);
  void Write(const SerialRecord& record);

  const SerializerOptions options_;
  const SerialSink sink_;
  const SerializerHooks hooks_;
  std::vector<std::unique_ptr<Vcpu>> vcpus_;

  mutable std::mutex mutex_;
  std::map<uint64_t, Group> groups_;
  uint64_t next_group_ = 0;
  std::unordered_map<uint64_t, PageWindow> pages_;
  Stats stats_;
};

}  // namespace rrkit::crew
