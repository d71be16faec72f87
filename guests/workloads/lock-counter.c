/*
 * lock-counter — every hart takes one spin lock over and over to update a shared
 * count and sum: a lock and its data bouncing between harts. The total work is fixed
 * and split across harts, so the result does not depend on the hart count.
 */
#include "rrkit.h"

#ifdef RRKIT_SMALL
#define ACQUISITIONS 40000ul
#else
#define ACQUISITIONS 4000000ul
#endif

/* The lock beside the data it guards: under CREW, taking it brings the data along. */
static struct {
    spinlock_t lock;
    unsigned long count, sum;
} shared;
static barrier_t barrier;

static unsigned long value(unsigned long i)
{
    return i * 2654435761ul >> 7;
}

int main(void)
{
    unsigned me = hart_id(), harts = num_harts();

    for (unsigned long i = ACQUISITIONS * me / harts; i < ACQUISITIONS * (me + 1) / harts; i++) {
        spin_lock(&shared.lock);
        shared.count++;
        shared.sum += value(i);
        spin_unlock(&shared.lock);
    }
    barrier_wait(&barrier);
    if (me != 0)
        return 0;

    unsigned long expected_sum = 0;
    for (unsigned long i = 0; i < ACQUISITIONS; i++)
        expected_sum += value(i);
    int ok = shared.count == ACQUISITIONS && shared.sum == expected_sum;
    printf("lock-counter: %s count=%lu sum=%016lx\n", ok ? "ok" : "FAIL", shared.count,
           shared.sum);
    return ok ? 0 : 1;
}
