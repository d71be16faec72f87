/*
 * harts.c — hart identity and count (hart-local, hart_area.h), the spin-wait hint, a hart's
 * end, and the CPL3 set-up before main (crt/start.S).
 */
#include "devices.h"
#include "hart_area.h"

/*
 * Runs at CPL3 with interrupts enabled but no timer started yet. .bss is not cleared: the
 * VMM starts the guest with zeroed RAM (docs/platform.md), and clearing it would touch —
 * fault in — every page of .bss, used or not.
 */
void x86_user_init(void)
{
    unsigned long n = device_read(DEVICE_HARTS); /* read once: each read is a VM exit */
    HART_LOCAL->harts = n == 0 ? 1 : n > RRKIT_MAX_HARTS ? RRKIT_MAX_HARTS : n;
}

unsigned hart_id(void)
{
    return (unsigned)HART_LOCAL->id;
}

unsigned num_harts(void)
{
    return (unsigned)HART_LOCAL->harts;
}

/*
 * The spin-wait hint is a VM exit: positions on kvm are exits, so a hart that spins only
 * reaches one — where it can give up a page another hart waits for, or sleep until it
 * can have changed — if its spin loop exits (docs/kvm-smp.md).
 */
void x86_cpu_relax(void)
{
    device_write(DEVICE_RELAX, 0);
}

/* A hart other than 0 returned from main: it stops for good (the VMM parks it). */
__attribute__((noreturn)) void x86_hart_park(void)
{
    x86_console_flush();
    for (;;)
        device_write(DEVICE_PARK, 0);
}
