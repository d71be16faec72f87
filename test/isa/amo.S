/* A: every AMO's result and memory effect, LR/SC success and failure, and on every hart
 * a contended counter incremented with LR/SC and with amoadd. Run with 4 harts. */
#include "isa.h"
#define ROUNDS 20000
    .section .text.start, "ax"
    .globl _start
_start:
    csrr s11, mhartid
    bnez s11, contend
    la a1, word
    li t0, 5
    sd t0, 0(a1)
    li t1, 3
    amoadd.d a0, t1, (a1);  CHECK(1, a0, 5)
    ld a0, 0(a1);           CHECK(2, a0, 8)
    amoswap.d a0, t1, (a1); CHECK(3, a0, 8)
    li t1, 6
    amoxor.d a0, t1, (a1);  ld a0, 0(a1); CHECK(4, a0, 5)
    amoand.d a0, t1, (a1);  ld a0, 0(a1); CHECK(5, a0, 4)
    amoor.d a0, t1, (a1);   ld a0, 0(a1); CHECK(6, a0, 6)
    li t1, -1
    amomin.d a0, t1, (a1);  ld a0, 0(a1); CHECK(7, a0, -1)
    li t1, 2
    amomax.d a0, t1, (a1);  ld a0, 0(a1); CHECK(8, a0, 2)
    li t1, -1
    amominu.d a0, t1, (a1); ld a0, 0(a1); CHECK(9, a0, 2)
    amomaxu.d a0, t1, (a1); ld a0, 0(a1); CHECK(10, a0, -1)
    /* W forms: 32-bit, result sign-extended, upper word untouched */
    li t0, 0x7fffffff
    sw t0, 0(a1)
    li t1, 1
    amoadd.w a0, t1, (a1);  CHECK(20, a0, 0x7fffffff)
    lw a0, 0(a1);           CHECK(21, a0, 0xffffffff80000000)
    lw a0, 4(a1);           CHECK(22, a0, -1)
    amoswap.w a0, zero, (a1); CHECK(23, a0, 0xffffffff80000000)
    li t1, -5
    amomin.w a0, t1, (a1);  lw a0, 0(a1); CHECK(24, a0, -5)
    amomaxu.w a0, zero, (a1); lw a0, 0(a1); CHECK(25, a0, -5)
    amominu.w a0, zero, (a1); lw a0, 0(a1); CHECK(26, a0, 0)
    li t1, 9
    amomax.w a0, t1, (a1);  lw a0, 0(a1); CHECK(27, a0, 9)
    amoor.w a0, t1, (a1);   amoxor.w a0, t1, (a1); lw a0, 0(a1); CHECK(28, a0, 0)
    amoand.w a0, t1, (a1);  CHECK(29, a0, 0)
    /* LR/SC: success writes and returns 0; SC without a reservation fails */
    li t0, 40
    sd t0, 0(a1)
    lr.d a0, (a1);          CHECK(40, a0, 40)
    li t1, 41
    sc.d a2, t1, (a1);      CHECK(41, a2, 0)
    ld a0, 0(a1);           CHECK(42, a0, 41)
    sc.d a2, t1, (a1);      CHECK(43, a2, 1)   /* reservation consumed */
    lr.w a0, (a1)
    sw zero, 0(a1)          /* a store to the address breaks the reservation */
    sc.w a2, t1, (a1);      CHECK(44, a2, 1)
    lr.w a0, (a1)
    la a3, word2
    sc.w a2, t1, (a3);      CHECK(45, a2, 1)   /* other address */
    fence rw, rw
contend:
    la a1, counter_lrsc
    la a2, counter_amo
    li s0, ROUNDS
1:  lr.d t0, (a1)
    addi t0, t0, 1
    sc.d t1, t0, (a1)
    bnez t1, 1b
    li t2, 1
    amoadd.d zero, t2, (a2)
    addi s0, s0, -1
    bnez s0, 1b
    /* count the harts that finished; hart 0 waits for all and checks */
    la a3, finished
    amoadd.w zero, t2, (a3)
    bnez s11, park
    li t3, 0x110004
    lw t3, 0(t3)            /* hart count from the rrkit device */
2:  lw t4, 0(a3)
    bne t4, t3, 2b
    li t5, ROUNDS
    mul t5, t5, t3
    ld a0, 0(a1)
    li a7, 50
    bne a0, t5, fail
    ld a0, 0(a2)
    li a7, 51
    bne a0, t5, fail
    j pass
park:
    wfi
    j park
    TEST_TAIL("amo")
    .data
    .balign 64
word: .dword 0
word2: .dword 0
    .balign 64
counter_lrsc: .dword 0
    .balign 64
counter_amo: .dword 0
finished: .word 0
