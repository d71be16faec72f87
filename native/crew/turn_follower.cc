#include "crew/turn_follower.h"

#include <map>
#include <sstream>

namespace rrkit::crew {
namespace {

std::string DescribeRecord(const SerialRecord& r) {
  std::ostringstream s;
  if (const auto* m = std::get_if<ModeSwitch>(&r)) {
    s << "mode switch: vcpu " << m->vcpu << " @ " << m->count << (m->serialized ? " joins" : " leaves") << " group "
      << m->group;
  } else {
    const auto& t = std::get<TurnSwitch>(r);
    s << "turn: vcpu " << t.vcpu << " @ " << t.count << " -> vcpu " << t.next;
  }
  return s.str();
}

}  // namespace

TurnFollower::TurnFollower(uint32_t vcpus) : vcpus_(vcpus) {
  check_.member_of.resize(vcpus);
  check_.last_count.resize(vcpus, 0);
}

TurnFollower::TurnFollower(uint32_t vcpus, std::vector<LoggedSerialRecord> records,
                           const std::optional<std::vector<uint64_t>>& final_counts)
    : TurnFollower(vcpus) {
  for (const LoggedSerialRecord& logged : records) {
    const uint32_t v = VcpuOf(logged.record);
    const uint64_t count = CountOf(logged.record);
    if (final_counts.has_value() && v < final_counts->size() && count > (*final_counts)[v]) {
      Invalid(logged.record, "lies past the vCPU's end @ " + std::to_string((*final_counts)[v]) + " (a truncated or damaged log)");
    }
    Add(logged);
  }
}

void TurnFollower::Invalid(const SerialRecord& r, const std::string& why) const {
  throw InvalidSerialLog("serialized-mode record " + std::to_string(added_) + " (" + DescribeRecord(r) + ") " + why);
}

void TurnFollower::Add(const LoggedSerialRecord& logged) {
  std::optional<uint32_t> woken;  // no allocation per record: a handshake logs one every few dozen instructions
  {
    std::lock_guard lock(mutex_);
    const SerialRecord& r = logged.record;
    const auto vcpus = static_cast<uint32_t>(vcpus_.size());
    const uint32_t v = VcpuOf(r);
    if (v >= vcpus) Invalid(r, "names a vCPU the machine lacks (it has " + std::to_string(vcpus) + ")");
    const uint64_t count = CountOf(r);
    if (count < check_.last_count[v]) {
      Invalid(r, "goes back from vcpu " + std::to_string(v) + "'s earlier record @ " + std::to_string(check_.last_count[v]));
    }
    check_.last_count[v] = count;
    size_t group = 0;
    if (const auto* m = std::get_if<ModeSwitch>(&r)) {
      if (m->serialized) {
        if (check_.member_of[v].has_value()) Invalid(r, "but the vCPU is in a group already");
        auto it = check_.active.find(m->group);
        if (it == check_.active.end()) {
          it = check_.active.emplace(m->group, groups_.size()).first;
          groups_.emplace_back();
          check_.holder.emplace_back();
          check_.members.push_back(0);
        }
        group = it->second;
        check_.member_of[v] = group;
        ++check_.members[group];
      } else {
        const auto it = check_.active.find(m->group);
        if (it == check_.active.end() || check_.member_of[v] != it->second) Invalid(r, "but the vCPU is not in that group");
        group = it->second;
        check_.member_of[v].reset();
        if (check_.holder[group] == v) check_.holder[group].reset();
        if (--check_.members[group] == 0) check_.active.erase(it);
      }
    } else {
      const auto& t = std::get<TurnSwitch>(r);
      if (!check_.member_of[v].has_value()) Invalid(r, "but the vCPU is in no group");
      group = *check_.member_of[v];
      if (t.next >= vcpus || check_.member_of[t.next] != group) Invalid(r, "passes the turn to a vCPU outside the group");
      if (check_.holder[group].has_value() ? *check_.holder[group] != v : t.next != v) {
        Invalid(r, "but the vCPU does not hold the group's turn");
      }
      check_.holder[group] = t.next;
    }
    const size_t index = entries_.size();
    Group& g = groups_[group];
    entries_.push_back(Entry{r, logged.checkpoints_before, group, g.sequence.size()});
    g.sequence.push_back(index);
    vcpus_[v].entries.push_back(index);
    ++added_;
    // Its vCPU may be stopped at its count already, waiting for its turn: let it look.
    if (vcpus_[v].waiting) woken = v;
  }
  if (wake_ && woken.has_value()) wake_(*woken);
}

size_t TurnFollower::Pending() const {
  std::lock_guard lock(mutex_);
  return added_ - processed_;
}

uint64_t TurnFollower::NextStop(uint32_t vcpu) const {
  std::lock_guard lock(mutex_);
  const Vcpu& v = vcpus_[vcpu];
  return v.entries.empty() ? kNever : CountOf(entries_[v.entries.front()].record);
}

uint64_t TurnFollower::NextCheckpointsBefore(uint32_t vcpu) const {
  std::lock_guard lock(mutex_);
  const Vcpu& v = vcpus_[vcpu];
  return v.entries.empty() ? 0 : entries_[v.entries.front()].checkpoints_before;
}

void TurnFollower::Process(const Entry& entry, std::vector<uint32_t>& woken) {
  Group& g = groups_[entry.group];
  const uint32_t v = VcpuOf(entry.record);
  if (const auto* m = std::get_if<ModeSwitch>(&entry.record)) {
    if (m->serialized) {
      vcpus_[v].group = entry.group;
    } else {
      vcpus_[v].group.reset();
      if (g.holder == v) g.holder.reset();
    }
  } else {
    const uint32_t next = std::get<TurnSwitch>(entry.record).next;
    g.holder = next;
    if (next != v) woken.push_back(next);
  }
  ++g.next;
  ++processed_;
  if (g.next < g.sequence.size()) woken.push_back(VcpuOf(entries_[g.sequence[g.next]].record));
}

TurnFollower::Pass TurnFollower::TryPass(uint32_t vcpu, uint64_t count, uint64_t cuts_completed) {
  // Only `vcpu`'s own thread calls this for it: its scratch list, filled under the lock, is
  // read after it without one (and keeps its capacity: no allocation per turn).
  std::vector<uint32_t>& woken = vcpus_[vcpu].woken;
  woken.clear();
  Pass pass = Pass::kGo;
  {
    std::lock_guard lock(mutex_);
    Vcpu& me = vcpus_[vcpu];
    while (!me.entries.empty()) {
      const Entry& entry = entries_[me.entries.front()];
      const uint64_t at = CountOf(entry.record);
      if (at < count) {
        throw InvalidSerialLog("vcpu " + std::to_string(vcpu) + " passed its serialized-mode record @ " +
                               std::to_string(at) + " (now @ " + std::to_string(count) + ")");
      }
      if (at > count) break;
      if (entry.checkpoints_before > cuts_completed) {  // written after a cut it has not joined
        pass = Pass::kCutFirst;
        break;
      }
      if (groups_[entry.group].next != entry.position) {  // an earlier record of its group first
        pass = Pass::kWaitRecord;
        break;
      }
      Process(entry, woken);
      me.entries.pop_front();
    }
    if (pass == Pass::kGo && me.group.has_value() && groups_[*me.group].holder != vcpu) pass = Pass::kWaitTurn;
    me.waiting = pass == Pass::kWaitRecord || pass == Pass::kWaitTurn;
    me.waiting_at = count;
  }
  const bool waits = pass == Pass::kWaitRecord || pass == Pass::kWaitTurn;
  const std::function<void(uint32_t)>& wake = waits && hand_over_ ? hand_over_ : wake_;
  if (wake) {
    for (uint32_t w : woken) {
      if (w != vcpu) wake(w);
    }
  }
  return pass;
}

std::vector<ModeSwitch> TurnFollower::Leaving(const std::vector<uint64_t>& counts) const {
  std::lock_guard lock(mutex_);
  if (processed_ != added_) {
    throw std::logic_error("serialized mode: " + std::to_string(added_ - processed_) + " records not followed at the end of the log");
  }
  std::vector<ModeSwitch> out;
  for (const auto& [id, group] : check_.active) {
    std::vector<uint32_t> members;
    if (const std::optional<uint32_t> holder = groups_[group].holder) members.push_back(*holder);
    for (uint32_t v = 0; v < vcpus_.size(); ++v) {
      if (check_.member_of[v] == group && groups_[group].holder != v) members.push_back(v);
    }
    for (uint32_t v : members) {
      if (v >= counts.size() || counts[v] < check_.last_count[v]) {
        throw std::logic_error("serialized mode: vcpu " + std::to_string(v) + " would leave its group below its last record");
      }
      out.push_back(ModeSwitch{v, counts[v], id, false});
    }
  }
  return out;
}

std::string TurnFollower::Describe(uint32_t vcpu) const {
  std::lock_guard lock(mutex_);
  const Vcpu& me = vcpus_[vcpu];
  if (!me.waiting) return "";
  std::ostringstream s;
  s << "@ " << me.waiting_at << " ";
  if (!me.entries.empty() && CountOf(entries_[me.entries.front()].record) == me.waiting_at) {
    const Entry& entry = entries_[me.entries.front()];
    const Group& g = groups_[entry.group];
    if (g.next < g.sequence.size()) {
      s << "waiting for " << DescribeRecord(entries_[g.sequence[g.next]].record) << " before its " << DescribeRecord(entry.record);
      return s.str();
    }
  }
  const Group& g = groups_[*me.group];
  s << "waiting for its turn";
  if (g.holder.has_value()) s << " (vcpu " << *g.holder << " holds it)";
  return s.str();
}

bool TurnFollower::InGroup(uint32_t vcpu) const {
  std::lock_guard lock(mutex_);
  return vcpu < vcpus_.size() && vcpus_[vcpu].group.has_value();
}

}  // namespace rrkit::crew
