/* No trap handler (mtvec 0), then an illegal instruction: the machine must stop with an error. */
    .section .text.start, "ax"
    .globl _start
_start:
    nop
    .word 0xffffffff
