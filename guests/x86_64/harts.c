/*
 * harts.c — hart identity and count, and the CPL3 set-up before main (crt/start.S).
 */
#include "devices.h"

/* Written at CPL0 by crt/start.S. */
__attribute__((section(".data"))) unsigned long x86_boot_hart_id;

static unsigned harts;

/*
 * Runs at CPL3 with interrupts enabled but no timer started yet. .bss is not cleared: the
 * VMM starts the guest with zeroed RAM (docs/platform.md), and clearing it would touch —
 * fault in — every page of .bss, used or not.
 */
void x86_user_init(void)
{
    unsigned long n = device_read(DEVICE_HARTS); /* read once: each read is a VM exit */
    harts = n == 0 ? 1 : n > RRKIT_MAX_HARTS ? RRKIT_MAX_HARTS : (unsigned)n;
}

unsigned hart_id(void)
{
    return (unsigned)x86_boot_hart_id;
}

unsigned num_harts(void)
{
    return harts;
}
