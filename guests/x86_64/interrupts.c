/*
 * interrupts.c — the device interrupts (CPL0, from the entry stubs in crt/vectors.S):
 * run the vector's handler, then tell the board it finished, so that it can deliver the
 * next interrupt.
 */
#include "devices.h"

void x86_timer_tick(void);    /* timer.c */
void x86_disk_completed(void); /* disk.c */

void x86_interrupt(unsigned long vector)
{
    if (vector == TIMER_VECTOR)
        x86_timer_tick();
    else if (vector == DISK_VECTOR)
        x86_disk_completed();
    device_write(DEVICE_EOI, vector);
}
