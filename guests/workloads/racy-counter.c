/*
 * racy-counter — all harts increment one shared counter with plain load/add/store and
 * no synchronisation: a data race on purpose. With several harts, increments are lost
 * and the final count differs from run to run; replay must reproduce it exactly.
 * Passes when 0 < count <= expected (on one hart, count == expected).
 */
#include "rrkit.h"

#ifdef RRKIT_SMALL
#define INCREMENTS 200000ul
#else
#define INCREMENTS 30000000ul
#endif

static volatile unsigned long counter;
static barrier_t barrier;

int main(void)
{
    unsigned me = hart_id(), harts = num_harts();
    unsigned long share = INCREMENTS * (me + 1) / harts - INCREMENTS * me / harts;

    /* Start together: a hart that boots late would otherwise find the race over. */
    barrier_wait(&barrier);
    for (unsigned long i = 0; i < share; i++)
        counter = counter + 1; /* racy: not atomic */
    barrier_wait(&barrier);
    if (me != 0)
        return 0;

    unsigned long count = counter;
    int ok = count > 0 && count <= INCREMENTS && (harts > 1 || count == INCREMENTS);
    printf("racy-counter: %s count=%lu expected=%lu lost=%lu\n", ok ? "ok" : "FAIL", count,
           INCREMENTS, INCREMENTS - count);
    return ok ? 0 : 1;
}
