/*
 * timer.c — the periodic timer: the VMM raises vector 0x20 every period; the CPL0
 * interrupt entry (crt/vectors.S, interrupts.c) calls x86_timer_tick, which calls the
 * workload's handler.
 */
#include "devices.h"
#include "hart_area.h"

/* Each hart's timer and handler are its own (hart-local). */
void timer_start(unsigned long period_ns, void (*handler)(void))
{
    HART_LOCAL->timer_handler = handler;
    device_write(DEVICE_TIMER_PERIOD, period_ns ? period_ns : 1);
}

void timer_stop(void)
{
    device_write(DEVICE_TIMER_PERIOD, 0);
}

/* CPL0, interrupts disabled (interrupt gate). */
void x86_timer_tick(void)
{
    void (*handler)(void) = HART_LOCAL->timer_handler;
    if (handler)
        handler();
}
