/*
 * flag-handshake — harts pair up (0 with 1, 2 with 3, ...) and pass a ball back and forth
 * through a turn flag, written the ordinary way, without rrkit's habits: every pair's
 * flag and ball sit side by side in one shared array (one page for all pairs), and each
 * hart waits for its turn in a bare loop, without cpu_relax(). Each pass adds the passer's
 * share to the ball. A hart without a partner (odd count, or one hart) plays both sides.
 * Hart 0 then busy-waits on the count of finished pairs and checks every ball.
 */
#include "rrkit.h"

#ifdef RRKIT_SMALL
#define ROUNDS 2000ul
#else
#define ROUNDS 200000ul
#endif

static struct {
    volatile unsigned long turn; /* 2 * round + side: whose move it is */
    volatile unsigned long ball;
} pairs[RRKIT_MAX_HARTS / 2 + 1];
static volatile unsigned int finished;

static unsigned long pass_value(unsigned long round, unsigned side)
{
    return (round * 2 + side) * 0x9e3779b97f4a7c15ul >> 20;
}

static unsigned long expected_ball(void)
{
    unsigned long ball = 0;
    for (unsigned long round = 0; round < ROUNDS; round++)
        ball += pass_value(round, 0) + pass_value(round, 1);
    return ball;
}

int main(void)
{
    unsigned me = hart_id(), harts = num_harts();
    unsigned p = me / 2, pair_count = (harts + 1) / 2;
    unsigned side = me % 2;
    int alone = (me | 1) >= harts;

    for (unsigned long round = 0; round < ROUNDS; round++) {
        for (unsigned s = alone ? 0 : side; s <= (alone ? 1u : side); s++) {
            while (__atomic_load_n(&pairs[p].turn, __ATOMIC_ACQUIRE) != 2 * round + s)
                ;
            pairs[p].ball += pass_value(round, s);
            __atomic_store_n(&pairs[p].turn, 2 * round + s + 1, __ATOMIC_RELEASE);
        }
    }
    if (side == 1 || alone)
        __atomic_fetch_add(&finished, 1u, __ATOMIC_RELEASE);
    if (me != 0)
        return 0;

    while (__atomic_load_n(&finished, __ATOMIC_ACQUIRE) != pair_count)
        ;
    unsigned long expected = expected_ball();
    int ok = 1;
    for (unsigned q = 0; q < pair_count; q++)
        ok &= pairs[q].ball == expected && pairs[q].turn == 2 * ROUNDS;
    printf("flag-handshake: %s rounds=%lu ball=%016lx\n", ok ? "ok" : "FAIL", ROUNDS, pairs[0].ball);
    return ok ? 0 : 1;
}
