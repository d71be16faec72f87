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

[[noreturn]] void Invalid(size_t index, const SerialRecord& r, const std::string& why) {
  throw InvalidSerialLog("serialized-mode record " + std::to_string(index) + " (" + DescribeRecord(r) + ") " + why);
}

}  // namespace

TurnFollower::TurnFollower(uint32_t vcpus, std::vector<LoggedSerialRecord> records,
                           const std::optional<std::vector<uint64_t>>& final_counts)
    : vcpus_(vcpus) {
  // Who is in which group, and who holds each group's turn, as the log goes.
  std::map<uint64_t, size_t> active;  // recorded group id -> internal group
  std::vector<std::optional<size_t>> member_of(vcpus);
  std::vector<uint64_t> last_count(vcpus, 0);
  std::vector<std::optional<uint32_t>> holder;  // per internal group
  std::vector<size_t> members;                  // per internal group
  for (size_t i = 0; i < records.size(); ++i) {
    const SerialRecord& r = records[i].record;
    const uint32_t v = VcpuOf(r);
    if (v >= vcpus) Invalid(i, r, "names a vCPU the machine lacks (it has " + std::to_string(vcpus) + ")");
    const uint64_t count = CountOf(r);
    if (count < last_count[v]) Invalid(i, r, "goes back from vcpu " + std::to_string(v) + "'s earlier record @ " + std::to_string(last_count[v]));
    last_count[v] = count;
    if (final_counts.has_value() && v < final_counts->size() && count > (*final_counts)[v]) {
      Invalid(i, r, "lies past the vCPU's end @ " + std::to_string((*final_counts)[v]) + " (a truncated or damaged log)");
    }
    size_t group = 0;
    if (const auto* m = std::get_if<ModeSwitch>(&r)) {
      if (m->serialized) {
        if (member_of[v].has_value()) Invalid(i, r, "but the vCPU is in a group already");
        auto it = active.find(m->group);
        if (it == active.end()) {
          it = active.emplace(m->group, groups_.size()).first;
          groups_.emplace_back();
          holder.emplace_back();
          members.push_back(0);
        }
        group = it->second;
        member_of[v] = group;
        ++members[group];
      } else {
        const auto it = active.find(m->group);
        if (it == active.end() || member_of[v] != it->second) Invalid(i, r, "but the vCPU is not in that group");
        group = it->second;
        member_of[v].reset();
        if (holder[group] == v) holder[group].reset();
        if (--members[group] == 0) active.erase(it);
      }
    } else {
      const auto& t = std::get<TurnSwitch>(r);
      if (!member_of[v].has_value()) Invalid(i, r, "but the vCPU is in no group");
      group = *member_of[v];
      if (t.next >= vcpus || member_of[t.next] != group) Invalid(i, r, "passes the turn to a vCPU outside the group");
      if (holder[group].has_value() ? *holder[group] != v : t.next != v) {
        Invalid(i, r, "but the vCPU does not hold the group's turn");
      }
      holder[group] = t.next;
    }
    entries_.push_back(Entry{r, records[i].checkpoints_before, group, groups_[group].sequence.size()});
    groups_[group].sequence.push_back(i);
    vcpus_[v].entries.push_back(i);
  }
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
  if (g.next < g.sequence.size()) woken.push_back(VcpuOf(entries_[g.sequence[g.next]].record));
}

TurnFollower::Pass TurnFollower::TryPass(uint32_t vcpu, uint64_t count, uint64_t cuts_completed) {
  std::vector<uint32_t> woken;
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
      if (at > count || entry.checkpoints_before > cuts_completed) break;
      if (groups_[entry.group].next != entry.position) {  // an earlier record of its group first
        pass = Pass::kWaitRecord;
        break;
      }
      Process(entry, woken);
      me.entries.pop_front();
    }
    if (pass == Pass::kGo && me.group.has_value() && groups_[*me.group].holder != vcpu) pass = Pass::kWaitTurn;
    me.waiting = pass != Pass::kGo;
    me.waiting_at = count;
  }
  if (wake_) {
    for (uint32_t w : woken) {
      if (w != vcpu) wake_(w);
    }
  }
  return pass;
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

}  // namespace rrkit::crew
