/*
 * interrupt-storm — a 50 kHz timer while the guest reads the clock in a loop, so that nearly
 * every exit delivers an interrupt and the handler's work lands between the loop's steps:
 * the replay must inject each one after the same exit, or the mix differs.
 */
#include "rrkit.h"

#define STEPS 3000

static volatile unsigned long ticks, mix;

static void on_tick(void)
{
    ticks++;
    mix = mix * 0x100000001b3ul ^ ticks;
}

int main(void)
{
    unsigned long acc = 0;
    timer_start(20000, on_tick);
    for (unsigned long i = 0; i < STEPS; i++) {
        acc = (acc * 0x9e3779b97f4a7c15ul) ^ clock_ns() ^ mix;
        for (volatile int k = 0; k < 100; k++)
            acc += (unsigned long)k;
    }
    timer_stop();
    printf("interrupt-storm: ok ticks=%lu acc=%016lx\n", ticks, acc);
    return ticks > 0 ? 0 : 1;
}
