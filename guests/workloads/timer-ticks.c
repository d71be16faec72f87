/*
 * timer-ticks — every hart runs a 1 kHz timer while it computes; the handler counts
 * ticks. The tick count depends on host time, so it varies from run to run; the
 * check is that ticks arrived (ticks > 0) and that the interrupts left the
 * computation intact (hart 0 recomputes its share with the timer off).
 *
 * The kvm engine delivers interrupts only at VM exits, which pure computation does
 * not make, so after computing each hart waits for a tick while reading the clock.
 */
#include "rrkit.h"

#ifdef RRKIT_SMALL
#define STEPS 400000ul
#else
#define STEPS 40000000ul
#endif
#define PERIOD_NS 1000000ul           /* 1 kHz */
#define TICK_WAIT_LIMIT_NS 5000000000ul /* give up if no tick arrives within 5 s */

static volatile unsigned long ticks, harts_without_ticks;
static unsigned long results[RRKIT_MAX_HARTS];
static barrier_t barrier;

static void on_tick(void)
{
    atomic_add(&ticks, 1);
}

/* An xorshift chain: every step depends on the one before. */
static unsigned long compute(unsigned long seed, unsigned long steps)
{
    unsigned long x = seed | 1;
    for (unsigned long i = 0; i < steps; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    return x;
}

int main(void)
{
    unsigned me = hart_id(), harts = num_harts();
    unsigned long steps = STEPS * (me + 1) / harts - STEPS * me / harts;
    unsigned long before = ticks;

    timer_start(PERIOD_NS, on_tick);
    results[me] = compute(me + 1, steps);
    unsigned long start = clock_ns();
    while (ticks == before && clock_ns() - start < TICK_WAIT_LIMIT_NS)
        cpu_relax();
    timer_stop();
    if (ticks == before)
        atomic_add(&harts_without_ticks, 1);
    barrier_wait(&barrier);
    if (me != 0)
        return 0;

    int ok = ticks > 0 && harts_without_ticks == 0 && results[0] == compute(1, steps);
    unsigned long digest = 0;
    for (unsigned h = 0; h < harts; h++)
        digest ^= results[h];
    printf("timer-ticks: %s ticks=%lu harts=%u digest=%016lx\n", ok ? "ok" : "FAIL", ticks,
           harts, digest);
    return ok ? 0 : 1;
}
