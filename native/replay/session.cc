#include "replay/session.h"

#include <utility>

#include "replay/chunk_sink.h"

namespace rrkit::replay {

std::unique_ptr<Session> Session::Live() {
  std::unique_ptr<Session> session(new Session());
  session->world_ = std::make_unique<LiveWorld>();
  return session;
}

std::unique_ptr<Session> Session::Record(const std::string& path, const LogHeader& header) {
  std::unique_ptr<Session> session(new Session());
  session->live_ = std::make_unique<LiveWorld>();
  session->writer_ = std::make_unique<LogWriter>(header, std::make_shared<FileChunkSink>(path));
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

Session::~Session() {
  // The world refers to the writer and the live world: destroy it first.
  world_.reset();
  writer_.reset();
}

}  // namespace rrkit::replay
