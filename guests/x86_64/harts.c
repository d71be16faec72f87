/*
 * harts.c — hart identity and count, and the CPL3 set-up before main (crt/start.S).
 */
#include "devices.h"

extern char __bss_start[], __bss_end[];

/* Written at CPL0 before .bss is cleared, so it must live in .data. */
__attribute__((section(".data"))) unsigned long x86_boot_hart_id;

static unsigned harts;

/* Runs at CPL3 with interrupts enabled but no timer started yet. */
void x86_user_init(void)
{
    memset(__bss_start, 0, (size_t)(__bss_end - __bss_start));
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
