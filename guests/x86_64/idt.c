/*
 * idt.c — the interrupt descriptor table (built and loaded at CPL0 by crt/start.S) and
 * the report for an unexpected exception.
 *
 * Vectors 0..31 (exceptions), 0x20 (timer) and 0x21 (disk) get 64-bit interrupt gates, DPL 0, on
 * the kernel code segment: a guest at CPL3 cannot raise them with INT, and every
 * gate clears IF, so the CPL0 code never nests.
 */
#include "devices.h"

#define KERNEL_CODE_SELECTOR 0x08
#define GATE_INTERRUPT_64    0x8e /* present, DPL 0, type 0xE */
#define IDT_ENTRIES          (DISK_VECTOR + 1)

struct idt_gate {
    unsigned short offset_low;
    unsigned short selector;
    unsigned char ist;
    unsigned char type_attr;
    unsigned short offset_mid;
    unsigned offset_high;
    unsigned reserved;
} __attribute__((packed));

struct idt_pointer {
    unsigned short limit;
    unsigned long base;
} __attribute__((packed));

extern const unsigned long x86_exception_stubs[32]; /* crt/vectors.S */
void x86_timer_stub(void);
void x86_disk_stub(void);

static void set_gate(struct idt_gate *idt, unsigned vector, unsigned long handler)
{
    idt[vector] = (struct idt_gate){
        .offset_low = (unsigned short)handler,
        .selector = KERNEL_CODE_SELECTOR,
        .ist = 0,
        .type_attr = GATE_INTERRUPT_64,
        .offset_mid = (unsigned short)(handler >> 16),
        .offset_high = (unsigned)(handler >> 32),
        .reserved = 0,
    };
}

/* Each hart fills its own IDT, in its hart area (hart_area.h), at CPL0, where the runtime
 * writes as little as it can (it is emulated on the PVM backend). */
void x86_idt_init(struct idt_gate *idt)
{
    for (unsigned v = 0; v < 32; v++)
        set_gate(idt, v, x86_exception_stubs[v]);
    set_gate(idt, TIMER_VECTOR, (unsigned long)x86_timer_stub);
    set_gate(idt, DISK_VECTOR, (unsigned long)x86_disk_stub);
    struct idt_pointer pointer = { IDT_ENTRIES * sizeof *idt - 1, (unsigned long)idt };
    __asm__ volatile("lidt %0" ::"m"(pointer));
}

/* CPL0, from the exception stubs. */
__attribute__((noreturn)) void x86_exception(unsigned long vector, unsigned long error,
                                             unsigned long rip)
{
    printf("rrkit: unexpected exception %lu error=%lx rip=%lx\n", vector, error, rip);
    exit(RT_FATAL_EXIT_CODE);
}
