#include "replay/session.h"

#include <chrono>
#include <utility>

#include "replay/chunk_sink.h"
#include "replay/replay_then_live_world.h"

namespace rrkit::replay {

std::unique_ptr<Session> Session::Live() {
  std::unique_ptr<Session> session(new Session());
  session->world_ = std::make_unique<LiveWorld>();
  return session;
}

std::unique_ptr<Session> Session::Record(const std::string& path, const LogHeader& header, LogWriter::Options options) {
  std::unique_ptr<Session> session(new Session());
  session->live_ = std::make_unique<LiveWorld>();
  session->writer_ = std::make_unique<LogWriter>(header, std::make_shared<FileChunkSink>(path), options);
  session->world_ = std::make_unique<RecordingWorld>(*session->live_, *session->writer_);
  return session;
}

std::unique_ptr<Session> Session::Replay(std::unique_ptr<LogReader> reader, ReplayingWorld::Options options) {
  std::unique_ptr<Session> session(new Session());
  auto replaying = std::make_unique<ReplayingWorld>(std::move(reader), options);
  session->replaying_ = replaying.get();
  session->world_ = std::move(replaying);
  return session;
}

std::unique_ptr<Session> Session::ReplayThenLive(std::unique_ptr<LogReader> reader, ReplayingWorld::Options options,
                                                 const std::string& next_path, LogWriter::Options next_options) {
  std::unique_ptr<Session> session(new Session());
  LogHeader next_header = reader->header();
  session->replaying_owned_ = std::make_unique<ReplayingWorld>(std::move(reader), options);
  session->replaying_ = session->replaying_owned_.get();
  session->live_ = std::make_unique<LiveWorld>();
  World* live = session->live_.get();
  if (!next_path.empty()) {
    next_header.start_unix_ms = static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
    session->writer_ = std::make_unique<LogWriter>(next_header, std::make_shared<FileChunkSink>(next_path), next_options);
    LogWriter* writer = session->writer_.get();
    session->replaying_->CopyRecordsTo([writer](const replay::Record& record) { writer->Append(record); });
    session->recording_ = std::make_unique<RecordingWorld>(*session->live_, *writer);
    live = session->recording_.get();
  }
  auto world = std::make_unique<ReplayThenLiveWorld>(*session->replaying_, *live, session->writer_.get());
  session->then_live_ = world.get();
  session->world_ = std::move(world);
  return session;
}

ReplayReport Session::replay_report() const {
  ReplayReport report = replaying_->report();
  if (then_live_ != nullptr && then_live_->is_live()) report.live_from = replaying_->LastLandmarks();
  return report;
}

Session::~Session() {
  // The world refers to the others, the recording world to the writer: destroy in that order.
  world_.reset();
  recording_.reset();
  replaying_owned_.reset();
  writer_.reset();
}

}  // namespace rrkit::replay
