// Kicking a thread out of a blocking KVM_RUN: a signal with a do-nothing handler makes
// KVM_RUN return EINTR. The signal is a real-time one that rrkit installs once and sends
// only to its own vCPU threads.
#pragma once

#include <pthread.h>

namespace rrkit::kvm {

// Installs the handler (once per process). Throws std::runtime_error when the signal is
// already in use by someone else.
void InstallKickHandler();

// On the thread that will run KVM_RUN: lets the kick signal through.
void UnblockKickOnThisThread();

// Sends the kick signal to `thread`.
void KickThread(pthread_t thread);

}  // namespace rrkit::kvm
