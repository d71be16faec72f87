/*
 * timer.c — the periodic per-hart timer on the CLINT's mtimecmp, and the machine timer
 * interrupt that drives it (called from trap.c).
 */
#include "board.h"

#define MIE_MTIE    (1ul << 7)
#define MSTATUS_MIE (1ul << 3)

static struct {
    unsigned long period_ticks;
    void (*handler)(void);
} timers[RRKIT_MAX_HARTS];

void timer_start(unsigned long period_ns, void (*handler)(void))
{
    unsigned h = hart_id();
    unsigned long ticks = period_ns / CLINT_NS_PER_TICK;
    timers[h].period_ticks = ticks ? ticks : 1;
    timers[h].handler = handler;
    mmio_write64(CLINT_MTIMECMP(h), clint_mtime() + timers[h].period_ticks);
    __asm__ volatile("csrs mie, %0" ::"r"(MIE_MTIE));
    __asm__ volatile("csrs mstatus, %0" ::"r"(MSTATUS_MIE));
}

void timer_stop(void)
{
    __asm__ volatile("csrc mie, %0" ::"r"(MIE_MTIE));
}

void rv64_timer_interrupt(void)
{
    unsigned h = hart_id();
    /* Advance by one period; if the hart fell behind by more than that, skip the missed
     * ticks instead of taking them back to back. */
    unsigned long next = mmio_read64(CLINT_MTIMECMP(h)) + timers[h].period_ticks;
    unsigned long now = clint_mtime();
    if (next <= now)
        next = now + timers[h].period_ticks;
    mmio_write64(CLINT_MTIMECMP(h), next);
    if (timers[h].handler)
        timers[h].handler();
}
