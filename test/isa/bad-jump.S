/* No trap handler, then a jump outside RAM: instruction access fault, machine stops. */
    .section .text.start, "ax"
    .globl _start
_start:
    li t0, 0x40000000
    jr t0
