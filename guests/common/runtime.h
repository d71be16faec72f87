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

/*
 * Spin-wait hint: an exit to the VMM on the kvm board (x86_64/harts.c), PAUSE on the x86_64
 * host shim, Zihintpause's pause (fence w,0, which cores without
 * the extension run as a fence) on rv64. rrkit's engines use it to let the harts that
 * do work run: under SMP recording a spinning hart sleeps until another hart takes one
 * of its pages.
 */
#if defined(RRKIT_KVM_BOARD)
void x86_cpu_relax(void); /* x86_64/harts.c: an exit, so that a spinning hart reaches a landmark */
#endif

static inline void rt_cpu_relax(void)
{
#if defined(RRKIT_KVM_BOARD)
    x86_cpu_relax();
#elif defined(__x86_64__)
    __builtin_ia32_pause();
#elif defined(__riscv)
    __asm__ volatile(".insn i 0x0f, 0, x0, x0, 0x010"); /* pause */
#endif
}

/*
 * Release hint: the calling hart has just published what other harts wait for (the
 * barrier's next generation). On the kvm board it is a spin-wait exit, where a recording
 * parks the hart for a moment, so that the harts waiting to read what it wrote take the
 * page at once rather than at this hart's next landmark, which may be a whole phase of
 * work away (docs/kvm-smp.md, "Where the time goes"). Nothing elsewhere: rv64's engine
 * can hand a page over at any instruction.
 */
static inline void rt_release_hint(void)
{
#if defined(RRKIT_KVM_BOARD)
    x86_cpu_relax();
#endif
}

#endif /* RRKIT_RUNTIME_H */
