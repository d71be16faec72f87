/* A workload that computes forever without a VM exit: only --timeout (a kick) stops it. */
#include "rrkit.h"

int main(void)
{
    volatile unsigned long x = 0;
    for (;;)
        x++;
}
