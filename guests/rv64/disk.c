/*
 * disk.c — the rv64 boards (rrkit's emu board, QEMU virt without drivers) have no block
 * device for the runtime: no disk.
 */
#include "rrkit.h"

unsigned long disk_sectors(void)
{
    return 0;
}

int disk_read(unsigned long sector, unsigned long count, void *buffer)
{
    (void)sector;
    (void)count;
    (void)buffer;
    return -1;
}
