/*
 * hart_area.h — each hart's own memory (docs/platform.md, "x86_64 — harts"): one area per
 * hart, RRKIT_MAX_HARTS of them from the symbol __hart_areas, in this layout. The VMM
 * enters hart h with rsi = its area, FS.base = its area and rsp = its boot stack top, and
 * points its TSS.RSP0 there too; native/kvm/board.h holds the same numbers.
 *
 * Nothing here is shared between harts, so under SMP recording (CREW) no hart ever waits
 * for another to reach its own stacks, IDT or hart-local data.
 */
#ifndef RRKIT_X86_64_HART_AREA_H
#define RRKIT_X86_64_HART_AREA_H

#define HART_AREA_BYTES      0x26000 /* 152 KiB per hart */
#define HART_LOCAL_OFFSET    0x0000  /* struct hart_local (this page) */
#define HART_IDT_OFFSET      0x1000  /* the hart's IDT (this page) */
#define HART_BOOT_STACK_TOP  0x6000  /* CPL0 stack, 16 KiB below this: boot, then interrupts */
#define HART_USER_STACK_TOP  0x26000 /* CPL3 stack, 128 KiB below this: main */

#ifndef __ASSEMBLER__
/* Read through FS (the VMM sets FS.base to the hart's area): no hart-id lookup needed. */
struct hart_local {
    unsigned long self; /* the area's own address (FS-relative loads give offsets, not addresses) */
    unsigned long id;
    unsigned long harts;
    void (*timer_handler)(void);
    unsigned long line_length; /* console.c: the line collected so far */
    char line[256];
};
#define HART_LOCAL ((struct hart_local __seg_fs *)HART_LOCAL_OFFSET)
#endif

#endif /* RRKIT_X86_64_HART_AREA_H */
