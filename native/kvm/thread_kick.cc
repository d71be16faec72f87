#include "kvm/thread_kick.h"

#include <signal.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string>

namespace rrkit::kvm {
namespace {

int KickSignal() { return SIGRTMIN + 5; }

void OnKick(int) {}  // its only job is to interrupt KVM_RUN

}  // namespace

void InstallKickHandler() {
  static std::once_flag once;
  static std::string failure;
  std::call_once(once, [] {
    struct sigaction current {};
    sigaction(KickSignal(), nullptr, &current);
    if (current.sa_handler != SIG_DFL && current.sa_handler != OnKick) {
      failure = "signal SIGRTMIN+5, which rrkit uses to kick vCPUs out of KVM_RUN, is already in use";
      return;
    }
    struct sigaction action {};
    action.sa_handler = OnKick;
    sigemptyset(&action.sa_mask);
    action.sa_flags = 0;  // no SA_RESTART: KVM_RUN must return EINTR
    if (sigaction(KickSignal(), &action, nullptr) != 0) failure = std::string("sigaction: ") + std::strerror(errno);
  });
  if (!failure.empty()) throw std::runtime_error(failure);
}

void UnblockKickOnThisThread() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, KickSignal());
  pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
}

void KickThread(pthread_t thread) { pthread_kill(thread, KickSignal()); }

}  // namespace rrkit::kvm
