/*
 * board.h — the rv64 board (a subset of QEMU `virt`, see docs/platform.md) as the
 * runtime sees it: device addresses, MMIO accessors and the boot-time facts.
 */
#ifndef RRKIT_RV64_BOARD_H
#define RRKIT_RV64_BOARD_H

#include "runtime.h"

#define BOARD_FINISHER       0x00100000ul
#define BOARD_RRKIT_DEVICE   0x00110000ul
#define BOARD_CLINT          0x02000000ul
#define BOARD_UART           0x10000000ul

/* rrkit system device registers (absent under QEMU). */
#define RRKIT_DEVICE_ID      0x00
#define RRKIT_DEVICE_HARTS   0x04
#define RRKIT_DEVICE_ENTROPY 0x08
#define RRKIT_DEVICE_MAGIC   0x544b5252u /* "RRKT" */

/* CLINT layout: 10 MHz timebase, one tick = 100 ns. */
#define CLINT_MTIMECMP(h)    (BOARD_CLINT + 0x4000ul + 8ul * (h))
#define CLINT_MTIME          (BOARD_CLINT + 0xbff8ul)
#define CLINT_NS_PER_TICK    100ul

static inline unsigned char mmio_read8(unsigned long addr)
{
    return *(volatile unsigned char *)addr;
}
static inline void mmio_write8(unsigned long addr, unsigned char v)
{
    *(volatile unsigned char *)addr = v;
}
static inline unsigned mmio_read32(unsigned long addr)
{
    return *(volatile unsigned *)addr;
}
static inline void mmio_write32(unsigned long addr, unsigned v)
{
    *(volatile unsigned *)addr = v;
}
static inline unsigned long mmio_read64(unsigned long addr)
{
    return *(volatile unsigned long *)addr;
}
static inline void mmio_write64(unsigned long addr, unsigned long v)
{
    *(volatile unsigned long *)addr = v;
}

static inline unsigned long clint_mtime(void)
{
    return mmio_read64(CLINT_MTIME);
}

/* Set once by hart 0 before the other harts are released (boot.c). */
extern struct board {
    unsigned harts;          /* harts that run main: 1 .. RRKIT_MAX_HARTS */
    int has_rrkit_device;    /* running on rrkit's emu engine rather than QEMU */
} board;

/* Counts the `cpu@` nodes of a flattened device tree; 0 if it is not one (fdt.c). */
unsigned fdt_count_cpus(const void *fdt);

#endif /* RRKIT_RV64_BOARD_H */
