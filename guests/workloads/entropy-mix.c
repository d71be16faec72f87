/*
 * entropy-mix — harts draw host entropy with random_u64 and stir it into a digest,
 * which therefore differs from run to run. Checked: the draws are not all the same
 * value (a stuck or missing entropy source) and the digest is not zero.
 */
#include "rrkit.h"

#ifdef RRKIT_SMALL
#define DRAWS 2000ul
#else
#define DRAWS 100000ul
#endif
#define STIR_ROUNDS 160 /* computation per draw, so that draws are not back to back */

static volatile unsigned long digest_sum, repeated_draws;
static barrier_t barrier;

static unsigned long stir(unsigned long state, unsigned long draw)
{
    for (unsigned r = 0; r < STIR_ROUNDS; r++) {
        state ^= draw + r;
        state *= 0x9e3779b97f4a7c15ul;
        state ^= state >> 29;
    }
    return state;
}

int main(void)
{
    unsigned me = hart_id(), harts = num_harts();
    unsigned long draws = DRAWS * (me + 1) / harts - DRAWS * me / harts;
    unsigned long state = me, previous = 0, repeats = 0;

    for (unsigned long i = 0; i < draws; i++) {
        unsigned long draw = random_u64();
        repeats += i > 0 && draw == previous;
        previous = draw;
        state = stir(state, draw);
    }
    atomic_add(&digest_sum, state);
    atomic_add(&repeated_draws, repeats);
    barrier_wait(&barrier);
    if (me != 0)
        return 0;

    int ok = digest_sum != 0 && repeated_draws < DRAWS / 2;
    printf("entropy-mix: %s draws=%lu repeats=%lu digest=%016lx\n", ok ? "ok" : "FAIL",
           DRAWS, repeated_draws, digest_sum);
    return ok ? 0 : 1;
}
