#include "crew/serializer.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace rrkit::crew {
namespace {

// A page trading hands this many times above the threshold is hot after this fraction of
// a window (Serializer::NotePage).
constexpr uint64_t kEarly = 16;

}  // namespace

Serializer::Serializer(uint32_t vcpus, SerializerOptions options, SerialSink sink, SerializerHooks hooks)
    : options_(options), sink_(std::move(sink)), hooks_(std::move(hooks)) {
  if (vcpus == 0) throw std::invalid_argument("the serializer needs at least one vCPU");
  if (options_.quantum == 0) throw std::invalid_argument("a turn must be at least one instruction");
  if (options_.window == 0) throw std::invalid_argument("the sharing window must be at least one instruction");
  for (uint32_t v = 0; v < vcpus; ++v) {
    vcpus_.push_back(std::make_unique<Vcpu>());
    vcpus_.back()->next_probe = options_.probe;
  }
}

Serializer::Stats Serializer::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

void Serializer::Write(const SerialRecord& record) {
  if (std::holds_alternative<TurnSwitch>(record)) ++stats_.turn_switches;
  else ++stats_.mode_switches;
  sink_(record);
}

bool Serializer::OnTransfer(const TransferEdge& edge) {
  std::lock_guard lock(mutex_);
  const Vcpu& from = *vcpus_[edge.from_vcpu];
  const Vcpu& to = *vcpus_[edge.to_vcpu];
  if (from.phase == Phase::kMember && to.phase == Phase::kMember && from.group == to.group) {
    Group& g = groups_.at(to.group);
    // The holder executes only after every record before its turn; the member gave the
    // page up where it stopped, before that.
    if (g.started && g.holder == edge.to_vcpu) {
      g.shared_this_turn = true;
      ++stats_.implied_transfers;
      return false;
    }
  }
  if (options_.enter_transfers_per_million != 0) NotePage(edge);
  return true;
}

bool Serializer::Shares(uint32_t requester, uint32_t holder) const {
  std::lock_guard lock(mutex_);
  const Vcpu& r = *vcpus_[requester];
  const Vcpu& h = *vcpus_[holder];
  if (r.phase != Phase::kMember || h.phase != Phase::kMember || r.group != h.group) return false;
  const Group& g = groups_.at(r.group);
  return g.started && g.holder == requester;
}

void Serializer::WroteShared(uint32_t vcpu, std::vector<uint32_t>& spinners) {
  std::lock_guard lock(mutex_);
  const Vcpu& v = *vcpus_[vcpu];
  Group* g = nullptr;
  if (v.phase == Phase::kMember) {
    g = &groups_.at(v.group);
    if (g->started && g->holder == vcpu) g->shared_this_turn = true;
  }
  // One lock for all of them: on 8 vCPUs a handshake's every pass concerns 7 spinners,
  // members of the writer's group, whose group needs no look-up.
  std::erase_if(spinners, [&](uint32_t s) {
    Vcpu& x = *vcpus_[s];
    return g != nullptr && x.phase == Phase::kMember && x.group == v.group ? WantsTurnWhileParkedIn(x, s, *g)
                                                                         : WantsTurnWhileParkedLocked(s);
  });
}

// A page's window ends when one of its holders has run `window` instructions since the
// window began; it is hot when it changed hands often enough meanwhile.
void Serializer::NotePage(const TransferEdge& edge) {
  PageWindow& w = pages_[edge.page];
  auto note = [&](uint32_t vcpu, uint64_t count) -> uint64_t {
    for (const auto& [v, since] : w.since) {
      if (v == vcpu) return count > since ? count - since : 0;
    }
    w.since.emplace_back(vcpu, count);
    return 0;
  };
  const uint64_t from_span = note(edge.from_vcpu, edge.from_count);  // in this order: the group's join order
  const uint64_t span = std::max(from_span, note(edge.to_vcpu, edge.to_count));
  ++w.transfers;
  // Vcpus a probe has just sent back to parallel need not run a whole window to come back:
  // once the window holds as many transfers as a hot window needs, it is hot whatever the
  // rest of it brings. (Measuring a whole window again, a handshake's group logged ~20 000
  // transfers per probe and ran at parallel CREW's speed meanwhile.)
  const bool hot_already = w.transfers * 1'000'000 >= options_.enter_transfers_per_million * options_.window;
  const bool back = BackFromProbe(edge.from_vcpu, edge.from_count) && BackFromProbe(edge.to_vcpu, edge.to_count);
  // Nor need a page far above the threshold wait for its window's end: kEarly times the
  // rate over a kEarly-th of a window decides. (A handshake's page, some 10^5 transfers per
  // million instructions, had every vCPU run its first 500 000 instructions in parallel
  // CREW, logging ~300 000 transfers on 8 vCPUs; now its first ~30 000.)
  const bool early = span >= options_.window / kEarly &&
                     w.transfers * 1'000'000 >= kEarly * options_.enter_transfers_per_million * span;
  if (span < options_.window && !early && !(hot_already && back)) return;
  if (w.transfers * 1'000'000 >= options_.enter_transfers_per_million * span) {
    std::vector<uint32_t> holders;
    for (const auto& entry : w.since) holders.push_back(entry.first);
    Serialize(holders);
  }
  w.since.clear();
  w.since.emplace_back(edge.from_vcpu, edge.from_count);
  if (edge.to_vcpu != edge.from_vcpu) w.since.emplace_back(edge.to_vcpu, edge.to_count);
  w.transfers = 0;
}

// Left a group because its probe ran out (not because it shared nothing), less than a
// window ago, and in no group since.
bool Serializer::BackFromProbe(uint32_t vcpu, uint64_t count) const {
  const Vcpu& v = *vcpus_[vcpu];
  return v.phase == Phase::kFree && v.left_by_probe && count >= v.left_at && count - v.left_at < options_.window;
}

// These vCPUs share a hot page: into one group, the largest one some of them are in
// already (the others merge into it at their next turn end), or a new one.
void Serializer::Serialize(const std::vector<uint32_t>& vcpus) {
  std::optional<uint64_t> target;
  auto size_of = [&](uint64_t id) {
    const Group& g = groups_.at(id);
    return g.members.size() + g.joining.size();
  };
  for (uint32_t v : vcpus) {
    const Vcpu& x = *vcpus_[v];
    if (x.phase == Phase::kFree) continue;
    if (!target.has_value() || size_of(x.group) > size_of(*target)) target = x.group;
  }
  if (!target.has_value()) {
    target = next_group_++;
    groups_.emplace(*target, Group{});
    ++stats_.groups;
  }
  for (uint32_t v : vcpus) {
    const Vcpu& x = *vcpus_[v];
    if (x.phase == Phase::kFree) AskToJoin(v, *target);
    else if (x.group != *target) groups_.at(x.group).merge_into = *target;
  }
}

void Serializer::AskToJoin(uint32_t vcpu, uint64_t group) {
  Vcpu& v = *vcpus_[vcpu];
  v.phase = Phase::kJoining;
  v.group = group;
  v.stopped = false;
  groups_.at(group).joining.push_back(vcpu);
  v.must_stop.store(true, std::memory_order_release);
  hooks_.stop(vcpu);
}

void Serializer::Stopped(uint32_t vcpu, uint64_t count, bool runnable) {
  std::lock_guard lock(mutex_);
  Vcpu& v = *vcpus_[vcpu];
  v.must_stop.store(false, std::memory_order_release);
  if (v.phase != Phase::kJoining) return;  // its group dissolved meanwhile: it is free
  v.stopped = true;
  v.stopped_at = count;
  v.runnable = runnable;
  Advance(v.group);
}

// Joiners that have stopped become members; a group whose joiners have all stopped gets
// its first turn. Only while no member executes.
void Serializer::Advance(uint64_t id) {
  Group& g = groups_.at(id);
  if (!g.started) {
    if (g.joining.empty()) return;
    for (uint32_t j : g.joining) {
      if (!vcpus_[j]->stopped) return;
    }
    WriteJoins(g, id);
    g.started = true;
    g.probe = options_.probe;
    for (uint32_t m : g.members) {
      Vcpu& v = *vcpus_[m];
      // A member that stayed parallel for longer than its last probe starts afresh.
      if (v.next_probe > options_.probe && v.stopped_at - v.left_at > v.next_probe) v.next_probe = options_.probe;
      g.probe = std::max(g.probe, v.next_probe);
    }
    const uint32_t first = g.members.front();
    GiveTurn(g, first, vcpus_[first]->stopped_at, first, true);
    return;
  }
  if (g.holder_state == Holder::kActive) return;  // it may be executing: at its turn's end
  WriteJoins(g, id);
  if (g.holder_state == Holder::kIdle) {
    if (const std::optional<uint32_t> next = NextWanting(g, g.holder)) {
      GiveTurn(g, g.holder, vcpus_[g.holder]->stopped_at, *next, true);
    }
  }
}

// Joiners that have stopped become members. In a started group the holder is stopped then
// (at its turn's end, or idle where it spins or sleeps), and it may go on from there
// without a record of its own: a new quantum, or back from idle. But from the join on, its
// accesses to a joiner's pages are shared grants, without edges, ordered after the joiner's
// accesses only by the join. So the joins are followed by a turn switch from the holder to
// itself where it stands: replay holds it there until the joiners have reached their joins
// (test/fixtures/order-dependence: without it, replay could let the holder read a page
// before the joiner wrote it).
void Serializer::WriteJoins(Group& g, uint64_t id) {
  if (g.joining.empty()) return;  // at every turn end: no allocation then
  std::vector<uint32_t> still;
  for (uint32_t j : g.joining) {
    Vcpu& v = *vcpus_[j];
    if (!v.stopped) {
      still.push_back(j);
      continue;
    }
    Write(ModeSwitch{j, v.stopped_at, id, true});
    v.phase = Phase::kMember;
    v.wants_turn = v.runnable;
    v.in_group.store(true, std::memory_order_release);
    g.members.push_back(j);
  }
  const bool joined = still.size() < g.joining.size();
  g.joining = std::move(still);
  if (joined && g.started) Write(TurnSwitch{g.holder, vcpus_[g.holder]->stopped_at, g.holder});
}

// The turn is `to`'s from here on, active at once: it stopped at stopped_at and has not run
// since, so its turn starts there, and it may execute as soon as it sees its turn_end
// (HoldsTurn) without asking WantTurn. Nobody but the holder ends an active turn.
void Serializer::GiveTurn(Group& g, uint32_t from, uint64_t count, uint32_t to, bool wake) {
  Write(TurnSwitch{from, count, to});
  Vcpu& f = *vcpus_[from];
  f.turn_end.store(kNever, std::memory_order_release);
  f.stopped_at = count;
  if (from != to) {
    g.turns_without_sharing = g.shared_this_turn ? 0 : g.turns_without_sharing + 1;
    g.shared_this_turn = false;
  }
  Vcpu& t = *vcpus_[to];
  g.holder = to;
  g.holder_state = Holder::kActive;
  g.turn_start = t.stopped_at;
  t.wants_turn = false;
  t.turn_end.store(t.stopped_at + options_.quantum, std::memory_order_release);
  if (wake) (hooks_.hand_over ? hooks_.hand_over : hooks_.wake)(to);
}

// Round robin: the first member after `after`, in join order, that wants the turn.
std::optional<uint32_t> Serializer::NextWanting(const Group& g, uint32_t after) const {
  const size_t n = g.members.size();
  size_t start = 0;
  for (size_t i = 0; i < n; ++i) {
    if (g.members[i] == after) {
      start = i + 1;
      break;
    }
  }
  for (size_t i = start; i < n; ++i) {
    if (vcpus_[g.members[i]]->wants_turn) return g.members[i];
  }
  for (size_t i = 0; i < start && i < n; ++i) {
    if (g.members[i] != after && vcpus_[g.members[i]]->wants_turn) return g.members[i];
  }
  return std::nullopt;
}

bool Serializer::WantTurn(uint32_t vcpu, uint64_t count) {
  std::lock_guard lock(mutex_);
  Vcpu& v = *vcpus_[vcpu];
  if (v.phase == Phase::kFree) return true;
  if (v.phase == Phase::kJoining) return false;
  Group& g = groups_.at(v.group);
  if (g.started && g.holder == vcpu) {
    if (g.holder_state != Holder::kActive) {
      g.holder_state = Holder::kActive;
      g.turn_start = count;
      v.turn_end.store(count + options_.quantum, std::memory_order_release);
    }
    return true;
  }
  v.wants_turn = true;
  v.stopped_at = count;
  if (g.started && g.holder_state == Holder::kIdle) {  // the holder spins or sleeps: take over
    GiveTurn(g, g.holder, vcpus_[g.holder]->stopped_at, vcpu, false);
    return true;
  }
  return false;
}

// A spinner woken by a write to what it read would otherwise take a thread only to say it
// wants the turn and wait again: in a handshake's group every pass woke every other member
// (docs/crew.md, "Handing the turn over").
bool Serializer::WantsTurnWhileParked(uint32_t vcpu) {
  std::lock_guard lock(mutex_);
  return WantsTurnWhileParkedLocked(vcpu);
}

bool Serializer::WantsTurnWhileParkedLocked(uint32_t vcpu) {
  Vcpu& v = *vcpus_[vcpu];
  if (v.phase != Phase::kMember) return false;
  return WantsTurnWhileParkedIn(v, vcpu, groups_.at(v.group));
}

bool Serializer::WantsTurnWhileParkedIn(Vcpu& v, uint32_t vcpu, const Group& g) {
  if (!g.started || g.holder == vcpu || g.holder_state == Holder::kIdle) return false;
  v.wants_turn = true;  // stopped_at is where its turn ended: it has not run since
  return true;
}

bool Serializer::EndTurn(uint32_t vcpu, uint64_t count, Why why) {
  std::lock_guard lock(mutex_);
  Vcpu& v = *vcpus_[vcpu];
  if (v.phase == Phase::kFree) return why == Why::kQuantum;
  const uint64_t id = v.group;
  Group& g = groups_.at(id);
  if (v.phase != Phase::kMember || !g.started || g.holder != vcpu) {
    if (why == Why::kQuantum) throw std::logic_error("serializer: vcpu " + std::to_string(vcpu) + " ends a turn it does not hold");
    v.wants_turn = false;  // it goes idle without the turn
    return false;
  }
  if (g.holder_state == Holder::kActive && count > g.turn_start) g.serial_instructions += count - g.turn_start;
  v.stopped_at = count;
  v.turn_end.store(kNever, std::memory_order_release);
  WriteJoins(g, id);  // the holder has stopped: joins may be written now

  if (g.merge_into.has_value() && groups_.count(*g.merge_into) != 0) {
    const uint64_t into = *g.merge_into;
    struct Moved {
      uint32_t vcpu;
      uint64_t at;
      bool runnable;
    };
    std::vector<Moved> moved;
    for (uint32_t m : g.members) {
      moved.push_back({m, m == vcpu ? count : vcpus_[m]->stopped_at, m == vcpu ? why == Why::kQuantum : vcpus_[m]->wants_turn});
    }
    Dissolve(id, vcpu, count, false);
    for (const Moved& m : moved) {
      Vcpu& x = *vcpus_[m.vcpu];
      x.phase = Phase::kJoining;
      x.group = into;
      x.stopped = true;
      x.stopped_at = m.at;
      x.runnable = m.runnable;
      groups_.at(into).joining.push_back(m.vcpu);
    }
    Advance(into);
    return false;
  }
  const bool probed = g.serial_instructions >= g.probe;
  if (probed || g.turns_without_sharing >= options_.idle_turns) {
    const uint64_t next_probe = probed ? std::min(2 * g.probe, options_.max_probe) : options_.probe;
    for (uint32_t m : g.members) {
      vcpus_[m]->next_probe = next_probe;
      vcpus_[m]->left_by_probe = probed;
    }
    Dissolve(id, vcpu, count, true);
    return why == Why::kQuantum;
  }
  if (const std::optional<uint32_t> next = NextWanting(g, vcpu)) {
    GiveTurn(g, vcpu, count, *next, true);
    v.wants_turn = why == Why::kQuantum;
    return false;
  }
  if (why == Why::kQuantum) {  // nobody else wants it: a new quantum, no record
    g.turn_start = count;
    v.turn_end.store(count + options_.quantum, std::memory_order_release);
    return true;
  }
  g.holder_state = Holder::kIdle;  // keeps the turn while it spins or sleeps
  v.wants_turn = false;
  return false;
}

// Back to parallel: every member leaves where it stopped (the holder at `count`). Joiners
// that never joined are released too.
void Serializer::Dissolve(uint64_t id, uint32_t holder, uint64_t count, bool wake) {
  Group& g = groups_.at(id);
  for (uint32_t m : g.members) {
    Vcpu& v = *vcpus_[m];
    const uint64_t at = m == holder ? count : v.stopped_at;
    Write(ModeSwitch{m, at, id, false});
    v.phase = Phase::kFree;
    v.group = kNoGroup;
    v.wants_turn = false;
    v.left_at = at;
    v.in_group.store(false, std::memory_order_release);
    v.turn_end.store(kNever, std::memory_order_release);
    v.left.store(true, std::memory_order_release);
    if (wake && m != holder) hooks_.wake(m);
  }
  for (uint32_t j : g.joining) {
    Vcpu& v = *vcpus_[j];
    v.phase = Phase::kFree;
    v.group = kNoGroup;
    v.must_stop.store(false, std::memory_order_release);
    if (v.stopped) hooks_.wake(j);
  }
  groups_.erase(id);
}

}  // namespace rrkit::crew
