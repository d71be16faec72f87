/*
 * boot.c — hart 0's work before any hart runs main (called from crt/start.S while the
 * other harts wait): find out which board this is and how many harts it has, and clear
 * .bss unless the board guarantees zeroed RAM.
 */
#include "board.h"

extern char __bss_start[], __bss_end[];

struct board board;

void rv64_boot_primary(const void *fdt)
{
    /* rrkit passes no device tree (a1 = 0) and has its system device instead. Its RAM is
     * zero at reset outside the image, so .bss is already clear; clearing it anyway would,
     * under SMP recording, make hart 0 the first owner of every .bss page, and each other
     * hart's first touch of one a transfer (docs/platform.md). */
    int rrkit = !fdt && mmio_read32(BOARD_RRKIT_DEVICE + RRKIT_DEVICE_ID) == RRKIT_DEVICE_MAGIC;
    if (!rrkit)
        memset(__bss_start, 0, (size_t)(__bss_end - __bss_start));

    unsigned harts = 1;
    if (fdt) {
        harts = fdt_count_cpus(fdt);
    } else if (rrkit) {
        board.has_rrkit_device = 1;
        harts = mmio_read32(BOARD_RRKIT_DEVICE + RRKIT_DEVICE_HARTS);
    }
    /* Harts past RRKIT_MAX_HARTS park at boot (crt/start.S), so they are not counted. */
    if (harts == 0)
        harts = 1;
    if (harts > RRKIT_MAX_HARTS)
        harts = RRKIT_MAX_HARTS;
    board.harts = harts;
}

unsigned hart_id(void)
{
    unsigned long id;
    __asm__ volatile("csrr %0, mhartid" : "=r"(id));
    return (unsigned)id;
}

unsigned num_harts(void)
{
    return board.harts;
}
