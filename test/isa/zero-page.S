/*
 * Writes a page no image byte lies in, zeroes it again, then spins: run to counts 1, 3
 * and 100, its memory is untouched, dirty, and zero again. The memory hash must call the
 * first and last equal (it is a function of the contents, not of which pages were touched).
 */
    .section .text.start, "ax"
    .globl _start
_start:
    auipc t1, 0x100          /* 1: t1 = _start + 1 MiB */
    addi t2, zero, 42        /* 2 */
    sd t2, 0(t1)             /* 3: the page now holds 42 */
    sd zero, 0(t1)           /* 4: and is all zero again */
1:  addi t0, t0, 1
    j 1b
