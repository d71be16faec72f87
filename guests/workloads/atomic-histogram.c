/*
 * atomic-histogram — harts classify generated values into shared buckets with
 * atomic_add (a count and a weight per bucket). Checked against a sequential
 * recount by hart 0.
 */
#include "rrkit.h"

#ifdef RRKIT_SMALL
#define VALUES 40000ul
#else
#define VALUES 4000000ul
#endif
#define BUCKETS 64

static volatile unsigned long count[BUCKETS], weight[BUCKETS];
static unsigned long expected_count[BUCKETS], expected_weight[BUCKETS];
static barrier_t barrier;

static unsigned long mix64(unsigned long z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ul;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebul;
    return z ^ (z >> 31);
}

/* Skewed on purpose (min of two draws), so some buckets are much hotter. */
static unsigned bucket_of(unsigned long i)
{
    unsigned long r = mix64(i);
    unsigned a = r & (BUCKETS - 1), b = (r >> 32) & (BUCKETS - 1);
    return a < b ? a : b;
}

int main(void)
{
    unsigned me = hart_id(), harts = num_harts();

    for (unsigned long i = VALUES * me / harts; i < VALUES * (me + 1) / harts; i++) {
        unsigned b = bucket_of(i);
        atomic_add(&count[b], 1);
        atomic_add(&weight[b], i);
    }
    barrier_wait(&barrier);
    if (me != 0)
        return 0;

    for (unsigned long i = 0; i < VALUES; i++) {
        unsigned b = bucket_of(i);
        expected_count[b]++;
        expected_weight[b] += i;
    }
    int ok = 1;
    unsigned long digest = 0;
    for (unsigned b = 0; b < BUCKETS; b++) {
        ok = ok && count[b] == expected_count[b] && weight[b] == expected_weight[b];
        digest = mix64(digest ^ count[b] ^ weight[b] << 20);
    }
    printf("atomic-histogram: %s values=%lu buckets=%u hottest=%lu digest=%016lx\n",
           ok ? "ok" : "FAIL", VALUES, BUCKETS, count[0], digest);
    return ok ? 0 : 1;
}
