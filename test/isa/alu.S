/* RV64I and M: every ALU, shift, W-form, multiply and divide instruction, with the
 * edge cases (division by zero, signed overflow, sign extension of W results). */
#include "isa.h"
    .section .text.start, "ax"
    .globl _start
_start:
    li s0, -1                       /* 0xffff...ff */
    li s1, 0x8000000000000000       /* INT64_MIN */
    li s2, 7
    li s3, -7
    li s4, 0x80000000               /* 2^31, positive in 64 bits */
    li s5, 0x7fffffff

    add a0, s2, s3;   CHECK(1, a0, 0)
    sub a0, s2, s3;   CHECK(2, a0, 14)
    addi a0, s2, -8;  CHECK(3, a0, -1)
    slt a0, s3, s2;   CHECK(4, a0, 1)
    sltu a0, s3, s2;  CHECK(5, a0, 0)
    slti a0, s3, -6;  CHECK(6, a0, 1)
    sltiu a0, s2, -1; CHECK(7, a0, 1)     /* -1 sign-extends to all ones */
    xor a0, s0, s2;   CHECK(8, a0, -8)
    or a0, s2, s4;    CHECK(9, a0, 0x80000007)
    and a0, s0, s5;   CHECK(10, a0, 0x7fffffff)
    xori a0, s2, -1;  CHECK(11, a0, -8)
    ori a0, zero, 0x7ff; CHECK(12, a0, 0x7ff)
    andi a0, s0, -2048; CHECK(13, a0, -2048)
    sll a0, s2, s2;   CHECK(14, a0, 896)
    li t0, 65
    sll a0, s2, t0;   CHECK(15, a0, 14)   /* shift amount is rs2 mod 64 */
    srl a0, s1, t0;   CHECK(16, a0, 0x4000000000000000)
    sra a0, s1, t0;   CHECK(17, a0, 0xc000000000000000)
    slli a0, s2, 63;  CHECK(18, a0, 0x8000000000000000)
    srli a0, s0, 60;  CHECK(19, a0, 15)
    srai a0, s1, 63;  CHECK(20, a0, -1)
    lui a0, 0x80000;  CHECK(21, a0, 0xffffffff80000000)   /* lui sign-extends */
5:  auipc a0, 0
    la a1, 5b
    sub a0, a0, a1;   CHECK(22, a0, 0)
6:  auipc a0, 0x1
    la a1, 6b
    sub a0, a0, a1;   CHECK(23, a0, 0x1000)
    /* W forms: 32-bit results sign-extended */
    addw a0, s5, s2;  CHECK(30, a0, 0xffffffff80000006)
    addiw a0, s5, 1;  CHECK(31, a0, 0xffffffff80000000)
    subw a0, zero, s4; CHECK(32, a0, 0xffffffff80000000)
    sllw a0, s2, t0;  CHECK(33, a0, 14)   /* shift amount is rs2 mod 32 */
    li t1, 31
    sllw a0, s2, t1;  CHECK(34, a0, 0xffffffff80000000)
    srlw a0, s0, t1;  CHECK(35, a0, 1)
    sraw a0, s4, t1;  CHECK(36, a0, -1)
    slliw a0, s2, 29; CHECK(37, a0, 0xffffffffe0000000)
    srliw a0, s0, 4;  CHECK(38, a0, 0x0fffffff)
    sraiw a0, s4, 4;  CHECK(39, a0, 0xfffffffff8000000)
    addiw a0, s0, 0;  CHECK(40, a0, -1)     /* sext.w */
    /* M */
    mul a0, s2, s3;   CHECK(50, a0, -49)
    mulh a0, s1, s1;  CHECK(51, a0, 0x4000000000000000)
    mulh a0, s0, s2;  CHECK(52, a0, -1)
    mulhu a0, s0, s0; CHECK(53, a0, 0xfffffffffffffffe)
    mulhsu a0, s0, s0; CHECK(54, a0, -1)    /* -1 * (2^64-1) */
    mulhsu a0, s2, s0; CHECK(55, a0, 6)
    mulw a0, s4, s2;  CHECK(56, a0, 0xffffffff80000000)
    div a0, s3, s2;   CHECK(60, a0, -1)
    div a0, s2, zero; CHECK(61, a0, -1)     /* division by zero: all ones */
    div a0, s1, s0;   CHECK(62, a0, 0x8000000000000000)  /* overflow: dividend */
    divu a0, s0, s2;  CHECK(63, a0, 0x2492492492492492)
    divu a0, s2, zero; CHECK(64, a0, -1)
    rem a0, s3, s2;   CHECK(65, a0, 0)
    li t2, -9
    rem a0, t2, s2;   CHECK(66, a0, -2)     /* sign of the dividend */
    rem a0, s2, zero; CHECK(67, a0, 7)      /* by zero: the dividend */
    rem a0, s1, s0;   CHECK(68, a0, 0)      /* overflow: 0 */
    remu a0, s0, s2;  CHECK(69, a0, 1)
    remu a0, s3, zero; CHECK(70, a0, -7)
    li t3, 0xffffffff80000000
    li t4, -1
    divw a0, t3, t4;  CHECK(71, a0, 0xffffffff80000000)  /* 32-bit overflow */
    divw a0, s2, zero; CHECK(72, a0, -1)
    divuw a0, s0, s2; CHECK(73, a0, 0x24924924)
    divuw a0, s2, zero; CHECK(74, a0, -1)
    remw a0, t3, t4;  CHECK(75, a0, 0)
    remw a0, s3, zero; CHECK(76, a0, -7)
    remuw a0, s0, s2; CHECK(77, a0, 3)      /* 0xffffffff % 7 */
    remuw a0, s4, zero; CHECK(78, a0, 0xffffffff80000000) /* dividend, sign-extended */
    /* x0 ignores writes */
    addi zero, zero, 5
    mv a0, zero;      CHECK(80, a0, 0)
    /* loads and stores, every width, sign and zero extension */
    la a1, scratch
    sd s0, 0(a1)
    li t0, 0x80
    sb t0, 0(a1)
    lb a0, 0(a1);     CHECK(90, a0, -128)
    lbu a0, 0(a1);    CHECK(91, a0, 0x80)
    li t0, 0x8001
    sh t0, 2(a1)
    lh a0, 2(a1);     CHECK(92, a0, 0xffffffffffff8001)
    lhu a0, 2(a1);    CHECK(93, a0, 0x8001)
    lw a0, 0(a1);     CHECK(94, a0, 0xffffffff8001ff80)
    lwu a0, 0(a1);    CHECK(95, a0, 0x8001ff80)
    sw s5, 4(a1)
    ld a0, 0(a1);     CHECK(96, a0, 0x7fffffff8001ff80)
    /* branches, both ways */
    li a0, 0
    beq s2, s2, 1f;   j fail_b
1:  bne s2, s3, 1f;   j fail_b
1:  blt s3, s2, 1f;   j fail_b
1:  bge s2, s3, 1f;   j fail_b
1:  bltu s2, s3, 1f;  j fail_b
1:  bgeu s3, s2, 1f;  j fail_b
1:  bge s3, s2, fail_b
    bltu s3, s2, fail_b
    /* jal/jalr link values and the low-bit clear of jalr */
    jal ra, 1f
2:  j fail_b
1:  la t0, 2b
    bne ra, t0, fail_b
    la t0, 1f
    addi t0, t0, 1
    jalr a0, 0(t0)
1:  fence
    fence.i
    j pass
fail_b:
    li a7, 99
    j fail
    TEST_TAIL("alu")
    .data
    .balign 8
scratch: .dword 0
