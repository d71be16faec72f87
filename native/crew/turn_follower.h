// Replay of serialized mode: follows the recorded mode switches and turn switches
// (serial_records.h), and takes no decision of its own (docs/crew.md, "Serialized mode").
//
// Each group's records are processed one after another, in log order; a vCPU processes its
// own records when it reaches their counts. A member of a group executes only while it
// holds the group's turn; a vCPU in no group runs freely (CREW edges still order it).
//
// What the engine does, per vCPU:
//   - stops at NextStop(v), and calls TryPass(v, count, cuts completed) there and whenever
//     it is about to execute after having waited; kWait*: it waits, and hooks.wake says
//     when to try again; kCutFirst: it joins the cut at `count` first;
//   - where a checkpoint cut falls on the same count as a record, the cut comes first when
//     the recording took it first (the record's checkpoints_before > cuts completed). The
//     follower decides that from the count of cuts completed alone, never from whether the
//     engine has scheduled the cut yet: the checkpoint is read before the record, but the
//     engine learns of it later (replay reads the log on any vCPU's thread).
//   - replay then live: at the end of the log, Leaving() says how every group leaves
//     serialized mode where its members stand, for the next log.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "crew/serial_records.h"

namespace rrkit::crew {

// A serialized-mode record sequence that no recording can have written (one line, naming
// the record).
class InvalidSerialLog : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A record as the log holds it, with the number of checkpoints written before it.
struct LoggedSerialRecord {
  SerialRecord record;
  uint64_t checkpoints_before = 0;
};

class TurnFollower {
 public:
  static constexpr uint64_t kNever = UINT64_MAX;

  // Records to come: Add() as the log is read (the streaming replay).
  explicit TurnFollower(uint32_t vcpus);
  // All records at once (they are Added in order; throws InvalidSerialLog), and no record
  // may lie past a vCPU's final count, when known.
  TurnFollower(uint32_t vcpus, std::vector<LoggedSerialRecord> records,
               const std::optional<std::vector<uint64_t>>& final_counts);

  // From any thread, in log order: one more record, checked against those before it
  // (throws InvalidSerialLog): each vCPU's counts never go back; a vCPU joins only when in
  // no group and leaves only its own; a turn passes from the holder (or, for a group's first
  // turn, from the member to itself) to a member. A vCPU reads its records before it runs
  // past them (the replay's horizon), so one added now is never one it passed.
  void Add(const LoggedSerialRecord& logged);
  // Records added and not yet processed.
  size_t Pending() const;

  void SetWake(std::function<void(uint32_t vcpu)> wake) { wake_ = std::move(wake); }
  // Instead of `wake`, for the vCPUs a TryPass lets run when its caller waits from there on
  // (the turn passed from it): an engine running vCPUs M:N can run the next holder on the
  // caller's thread (machine::VcpuScheduler::HandOver).
  void SetHandOver(std::function<void(uint32_t vcpu)> hand_over) { hand_over_ = std::move(hand_over); }

  // The count of `vcpu`'s next record, or kNever.
  uint64_t NextStop(uint32_t vcpu) const;
  // Checkpoints the recording took before that record.
  uint64_t NextCheckpointsBefore(uint32_t vcpu) const;

  // `vcpu` is stopped at `count`, and the replay has completed `cuts_completed` cuts:
  // processes its records there that the recording wrote before the next cut, then says
  // whether it may go on. kCutFirst: its next record at `count` was written after a cut
  // not completed yet, which it joins first (at `count`: a log that says otherwise is
  // damaged); kWaitRecord: an earlier record of its group is not processed yet; kWaitTurn:
  // it is a member of a group without the turn (it may still join a cut or stop for good
  // there). hooks.wake follows either wait.
  enum class Pass { kGo, kCutFirst, kWaitRecord, kWaitTurn };
  Pass TryPass(uint32_t vcpu, uint64_t count, uint64_t cuts_completed);

  // Replay then live, at the end of the log (every record processed, each vCPU paused at
  // counts[v]): the mode switches that take every member of every group out of serialized
  // mode where it stands, group by group, its holder first. The next log holds them, so
  // that its replay follows the groups to the same place and then runs the vCPUs freely.
  // Throws std::logic_error when records are still to be processed.
  std::vector<ModeSwitch> Leaving(const std::vector<uint64_t>& counts) const;

  // Whether `vcpu` is a member of a serialized group as the replay stands (a state image
  // is taken only at a cut where none is: emu/state_image.h).
  bool InGroup(uint32_t vcpu) const;
  // Why `vcpu` waits, for a stall report ("" when it does not).
  std::string Describe(uint32_t vcpu) const;

 private:
  struct Entry {
    SerialRecord record;
    uint64_t checkpoints_before;
    uint64_t group;     // the group it belongs to
    size_t position;    // its place in that group's sequence
  };
  struct Group {
    std::vector<size_t> sequence;  // entry indices, in log order
    size_t next = 0;               // the next to process
    std::optional<uint32_t> holder;
  };
  struct Vcpu {
    std::deque<size_t> entries;  // its records, in order
    std::optional<uint64_t> group;
    bool waiting = false;
    uint64_t waiting_at = 0;
    std::vector<uint32_t> woken;  // TryPass's scratch (its own thread only)
  };

  void Process(const Entry& entry, std::vector<uint32_t>& woken);
  [[noreturn]] void Invalid(const SerialRecord& r, const std::string& why) const;

  // What Add checks against: who is in which group, and who holds each group's turn, as
  // the log goes (not as the replay goes: that is Group::holder and Vcpu::group).
  struct Check {
    std::map<uint64_t, size_t> active;  // recorded group id -> internal group
    std::vector<std::optional<size_t>> member_of;
    std::vector<uint64_t> last_count;
    std::vector<std::optional<uint32_t>> holder;  // per internal group
    std::vector<size_t> members;                  // per internal group
  };
  Check check_;
  size_t added_ = 0;
  size_t processed_ = 0;

  std::vector<Entry> entries_;
  std::vector<Group> groups_;  // by internal index (a recorded group id may come back)
  std::vector<Vcpu> vcpus_;
  std::function<void(uint32_t)> wake_;
  std::function<void(uint32_t)> hand_over_;
  mutable std::mutex mutex_;
};

}  // namespace rrkit::crew
