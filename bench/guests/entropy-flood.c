/*
 * entropy-flood — reads host entropy in a tight loop, DRAWS times, and prints a digest:
 * random values are what no encoding or codec shrinks, so this makes the biggest log per
 * second the format allows (the log bench's ≥ 1 GB log, whose replay must stay within a
 * fixed memory bound). Built by bench/log.ts; DRAWS comes from the build.
 */
#include "rrkit.h"

#ifndef DRAWS
#define DRAWS 1000000ul
#endif

int main(void)
{
    if (hart_id() != 0)
        return 0;
    unsigned long digest = 0;
    for (unsigned long i = 0; i < DRAWS; i++)
        digest = (digest ^ random_u64()) * 0x100000001b3ul;
    printf("entropy-flood: ok draws=%lu digest=%016lx\n", DRAWS, digest);
    return 0;
}
