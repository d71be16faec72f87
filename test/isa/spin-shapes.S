/* Busy-waits of several shapes, none with a spin-wait hint, for the spin probe (2 harts).
 * Hart 0 hands hart 1 a round number through `go` and `go2` (one page with `ack`) and
 * waits for hart 1's `ack`; hart 1 waits for each round in one of three ways:
 *   0: a loop entered through a block that is not part of it (as a compiler emits it);
 *   1: a loop over two flags, the second one set a little after the first;
 *   2: a loop with a counted delay loop inside (its registers change in every round and
 *      come back to the same values only at the outer loop's head).
 * Hart 0's own wait for `ack` is of the first shape. Recorded in serialized mode with a
 * turn far longer than the run, a turn ends only where its holder is seen spinning. */
#include "isa.h"
#define ROUNDS 120
#define WORK 20

    .section .text.start, "ax"
    .globl _start
_start:
    csrr s11, mhartid
    la s0, go
    li s1, 1                 /* the round */
    li s2, ROUNDS + 1
    bnez s11, follower

leader:
    li t2, WORK              /* a little work: registers change, nothing is stored */
1:  addi t2, t2, -1
    bnez t2, 1b
    sd s1, 0(s0)             /* go */
    li t2, WORK
2:  addi t2, t2, -1
    bnez t2, 2b
    sd s1, 8(s0)             /* go2 */
    mv t3, s1                /* the wait's first block, outside the loop */
    mv t4, s0
3:  ld t0, 16(t4)            /* ack */
    bne t0, t3, 3b
    addi s1, s1, 1
    bne s1, s2, leader
    j pass

follower:
    li t1, 3
    remu t1, s1, t1
    beqz t1, shape0
    li t2, 1
    beq t1, t2, shape1

shape2:
4:  li t2, 8
5:  addi t2, t2, -1
    bnez t2, 5b
    ld t0, 0(s0)
    bne t0, s1, 4b
    j acked

shape1:
6:  ld t0, 0(s0)
    bne t0, s1, 6b
    ld t0, 8(s0)
    bne t0, s1, 6b
    j acked

shape0:
    mv t3, s1
    mv t4, s0
7:  ld t0, 0(t4)
    bne t0, t3, 7b

acked:
    sd s1, 16(s0)            /* ack */
    addi s1, s1, 1
    bne s1, s2, follower
8:  wfi
    j 8b

TEST_TAIL("spin-shapes")

    .data
go:  .dword 0
go2: .dword 0
ack: .dword 0
