/*
 * false-sharing — each hart increments only its own counter, but the counters are
 * packed side by side, eight to a 64-byte cache line and all on one page, so every
 * write contends with the other harts' writes although no data is actually shared.
 */
#include "rrkit.h"

#ifdef RRKIT_SMALL
#define INCREMENTS 400000ul
#else
#define INCREMENTS 40000000ul
#endif

static struct {
    volatile unsigned long counter[RRKIT_MAX_HARTS];
} line __attribute__((aligned(64)));
static barrier_t barrier;

_Static_assert(sizeof line == 8 * RRKIT_MAX_HARTS && sizeof line <= RRKIT_PAGE_SIZE,
               "the counters must be packed, eight to a cache line, on one page");

int main(void)
{
    unsigned me = hart_id(), harts = num_harts();
    unsigned long share = INCREMENTS * (me + 1) / harts - INCREMENTS * me / harts;

    for (unsigned long i = 0; i < share; i++)
        line.counter[me]++;
    barrier_wait(&barrier);
    if (me != 0)
        return 0;

    unsigned long total = 0;
    int ok = 1;
    for (unsigned h = 0; h < harts; h++) {
        unsigned long expected = INCREMENTS * (h + 1) / harts - INCREMENTS * h / harts;
        ok = ok && line.counter[h] == expected;
        total += line.counter[h];
    }
    printf("false-sharing: %s total=%lu\n", ok ? "ok" : "FAIL", total);
    return ok ? 0 : 1;
}
