/*
 * disk.c — the block device: a request is three register writes; the board copies the
 * sectors into memory (DMA) and raises vector 0x21 when they are there.
 *
 * The board delivers interrupts only at VM exits, so the wait reads the status register
 * (each read is an exit) until the completion interrupt has arrived.
 */
#include "devices.h"

static volatile unsigned long completions;

/* CPL0, from x86_interrupt. */
void x86_disk_completed(void)
{
    completions++;
}

unsigned long disk_sectors(void)
{
    return device_read(DEVICE_DISK_SECTORS);
}

static int read_request(unsigned long sector, unsigned long count, void *buffer)
{
    unsigned long before = completions;
    device_write(DEVICE_DISK_SECTOR, sector);
    device_write(DEVICE_DISK_ADDRESS, (unsigned long)buffer);
    device_write(DEVICE_DISK_COUNT, count);
    unsigned long status;
    do
        status = device_read(DEVICE_DISK_STATUS);
    while (completions == before);
    return status == DISK_STATUS_IDLE ? 0 : -1;
}

int disk_read(unsigned long sector, unsigned long count, void *buffer)
{
    unsigned char *to = buffer;
    while (count > 0) {
        unsigned long n = count < DISK_MAX_REQUEST ? count : DISK_MAX_REQUEST;
        if (read_request(sector, n, to) != 0)
            return -1;
        sector += n;
        count -= n;
        to += n * RRKIT_SECTOR_SIZE;
    }
    return 0;
}
