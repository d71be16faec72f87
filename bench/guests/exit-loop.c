/*
 * exit-loop — x86_64 only: EXITS reads of the devices page's harts register, each a VM exit
 * that logs nothing (its value is the board's, not the world's), between two reads of the
 * host clock that the VMM samples as it handles them. Prints the clock's difference, the
 * time of EXITS + 1 exit round trips as the VMM saw them, without VM set-up or the guest's
 * first page touches. Built by bench/micro.ts; EXITS comes from the build.
 */
#include "rrkit.h"
#include "../x86_64/devices.h"

#ifndef EXITS
#define EXITS 1000ul
#endif

int main(void)
{
    if (hart_id() != 0)
        return 0;
    unsigned long harts = 0;
    unsigned long start = clock_ns();
    for (unsigned long i = 0; i < EXITS; i++)
        harts += device_read(DEVICE_HARTS);
    unsigned long end = clock_ns();
    printf("exit-loop: ok exits=%lu ns=%lu harts=%lu\n", EXITS + 1, end - start, harts / EXITS);
    return 0;
}
