/*
 * clock.c — the host clock, a device read.
 */
#include "devices.h"

unsigned long clock_ns(void)
{
    return device_read(DEVICE_CLOCK_NS);
}
