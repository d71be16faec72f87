/*
 * clock-poll — a guest written without rrkit's habits: no timer, no wfi, no cpu_relax;
 * every hart busy-polls clock_ns() and hart 0 prints a line every PERIOD_NS. Each loop
 * iteration is a clock read the log must carry, so it measures how much log a
 * clock-bound guest costs per second of run. Checked: the clock never went backwards and
 * every period passed.
 */
#include "rrkit.h"

#ifdef RRKIT_SMALL
#define LINES 10
#define PERIOD_NS 1000000ul /* 1 ms */
#else
#define LINES 400
#define PERIOD_NS 5000000ul /* 5 ms: 2 s in all */
#endif

static volatile unsigned long backwards;
static barrier_t barrier;

/* Polls the clock until `deadline`; counts any read that went back in time. */
static unsigned long wait_until(unsigned long deadline, unsigned long previous)
{
    unsigned long now;
    do {
        now = clock_ns();
        if (now < previous)
            atomic_add(&backwards, 1);
        previous = now;
    } while (now < deadline);
    return now;
}

int main(void)
{
    unsigned me = hart_id();
    unsigned long start = clock_ns(), now = start;
    for (unsigned long line = 1; line <= LINES; line++) {
        now = wait_until(start + line * PERIOD_NS, now);
        if (me == 0)
            printf("line %lu\n", line);
    }
    barrier_wait(&barrier);
    if (me != 0)
        return 0;

    int ok = backwards == 0 && now - start >= LINES * PERIOD_NS;
    printf("clock-poll: %s lines=%d backwards=%lu\n", ok ? "ok" : "FAIL", LINES, backwards);
    return ok ? 0 : 1;
}
