/* A trap handler that itself stores to an unmapped address: the store to the ROM-less
 * region at 0x1000 faults, the handler faults again before retiring anything: trap loop. */
    .section .text.start, "ax"
    .globl _start
_start:
    la t0, handler
    csrw mtvec, t0
    li t1, 0x1000
handler:
    sd zero, 0(t1)
