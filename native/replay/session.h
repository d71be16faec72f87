// The World an engine runs against, and what it needs kept alive: a plain run's LiveWorld,
// a recording's LiveWorld + LogWriter + RecordingWorld, or a replay's ReplayingWorld.
// Engine bindings build one per run, so that record and replay are options of a run rather
// than separate code paths.
#pragma once

#include <memory>
#include <string>

#include "replay/log_format.h"
#include "replay/log_reader.h"
#include "replay/log_writer.h"
#include "replay/recording_world.h"
#include "replay/replay_then_live_world.h"
#include "replay/replaying_world.h"
#include "replay/world.h"

namespace rrkit::replay {

class Session {
 public:
  // A plain run: nothing logged.
  static std::unique_ptr<Session> Live();
  // Record to the file at `path` (created or truncated). Throws std::runtime_error naming
  // the path when it cannot be opened.
  static std::unique_ptr<Session> Record(const std::string& path, const LogHeader& header,
                                         LogWriter::Options options = LogWriter::Options{});
  // Replay the log `reader` reads (its header already validated; chunks are read as the
  // replay reaches them). A bad chunk is a LogError when the replay reaches it.
  static std::unique_ptr<Session> Replay(std::unique_ptr<LogReader> reader,
                                         ReplayingWorld::Options options = ReplayingWorld::Options{});
  // Replay, then go on live from the end of the log (ReplayThenLiveWorld), recording into
  // the file at `next_path` when it is not empty: a log that holds the replayed one's
  // records, then the live run's.
  static std::unique_ptr<Session> ReplayThenLive(std::unique_ptr<LogReader> reader, ReplayingWorld::Options options,
                                                 const std::string& next_path,
                                                 LogWriter::Options next_options = LogWriter::Options{});

  World& world() { return *world_; }
  // Replay only: null otherwise.
  ReplayingWorld* replaying() { return replaying_; }
  // Replay: what it read and checked, and (replay then live) where it went live.
  ReplayReport replay_report() const;
  // Replay then live: whether the machine has gone live (read from any thread).
  bool is_live() const { return then_live_ != nullptr && then_live_->is_live(); }
  // Recording (and replay then live with a next log): the log being written, for records
  // the World does not carry (CREW transfers).
  LogWriter* writer() { return writer_.get(); }
  // Recording: writes every appended record; the trailer is written only when the machine
  // stopped cleanly (RecordingWorld::MachineStopped closed the log), otherwise the log
  // stays `incomplete`, as after a crash.
  ~Session();

 private:
  Session() = default;

  std::unique_ptr<LiveWorld> live_;
  std::unique_ptr<LogWriter> writer_;
  std::unique_ptr<RecordingWorld> recording_;    // replay then live, recording on
  std::unique_ptr<ReplayingWorld> replaying_owned_;  // replay then live
  std::unique_ptr<World> world_;
  ReplayingWorld* replaying_ = nullptr;
  ReplayThenLiveWorld* then_live_ = nullptr;
};

}  // namespace rrkit::replay
