/*
 * clock.c — the host clock, from the CLINT's mtime (10 MHz).
 */
#include "board.h"

unsigned long clock_ns(void)
{
    return clint_mtime() * CLINT_NS_PER_TICK;
}
