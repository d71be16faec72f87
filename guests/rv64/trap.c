/*
 * trap.c — where crt/trap.S sends every M-mode trap: the machine timer interrupt goes
 * to the timer, anything else is a guest bug and stops the machine with a report.
 */
#include "board.h"

#define MCAUSE_INTERRUPT          (1ul << 63)
#define MCAUSE_MACHINE_TIMER      7ul

void rv64_timer_interrupt(void);

void rv64_trap(unsigned long mcause, unsigned long mepc, unsigned long mtval)
{
    if (mcause == (MCAUSE_INTERRUPT | MCAUSE_MACHINE_TIMER)) {
        rv64_timer_interrupt();
        return;
    }
    printf("rrkit: hart %u: unexpected trap mcause=%lx mepc=%lx mtval=%lx\n", hart_id(),
           mcause, mepc, mtval);
    exit(RT_FATAL_EXIT_CODE);
}
