/* Spins for ever: only --timeout stops it. */
    .section .text.start, "ax"
    .globl _start
_start:
    addi t0, t0, 1
    j _start
