/*
 * runtime.h — what the portable runtime (guests/common/) and the per-architecture
 * runtimes (guests/rv64/, guests/x86_64/) provide to each other. Not part of the guest
 * API: workloads include only rrkit.h.
 */
#ifndef RRKIT_RUNTIME_H
#define RRKIT_RUNTIME_H

#include "rrkit.h"

/* Exit code used when the runtime stops the machine on an unexpected trap or fault. */
#define RT_FATAL_EXIT_CODE 255

/* Spin-wait hint for the architecture (PAUSE on x86_64; nothing on rv64ima). */
static inline void rt_cpu_relax(void)
{
#if defined(__x86_64__)
    __builtin_ia32_pause();
#endif
}

#endif /* RRKIT_RUNTIME_H */
