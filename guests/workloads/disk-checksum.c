/*
 * disk-checksum — reads a disk image it did not write, through the board's block device
 * (DMA into memory, a completion interrupt per request), and checks it against the
 * checksum the image carries in its last sector:
 *
 *   bytes 0..7 "RRKITDSK", 8..15 data sectors (LE), 16..23 FNV-1a 64 of the data sectors
 *
 * (`rrkit guest disk` writes such images). Hart 0 does the reading; the result line is
 * the same for the same image.
 */
#include "rrkit.h"

#define CHUNK_SECTORS 128 /* 64 KiB per disk_read */

static unsigned char buffer[CHUNK_SECTORS * RRKIT_SECTOR_SIZE] RRKIT_PAGE_ALIGNED;
static const char magic[8] = { 'R', 'R', 'K', 'I', 'T', 'D', 'S', 'K' };

static unsigned long le64(const unsigned char *p)
{
    unsigned long v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

int main(void)
{
    if (hart_id() != 0)
        return 0;
    unsigned long sectors = disk_sectors();
    if (sectors < 2) {
        printf("disk-checksum: FAIL no disk (attach an image made by `rrkit guest disk` with --disk)\n");
        return 1;
    }
    if (disk_read(sectors - 1, 1, buffer) != 0) {
        printf("disk-checksum: FAIL cannot read the last sector\n");
        return 1;
    }
    unsigned long data_sectors = le64(buffer + 8), expected = le64(buffer + 16);
    if (memcmp(buffer, magic, sizeof magic) != 0 || data_sectors != sectors - 1) {
        printf("disk-checksum: FAIL not an rrkit disk image (no RRKITDSK trailer for %lu sectors)\n", sectors - 1);
        return 1;
    }

    unsigned long fnv = 0xcbf29ce484222325ul, requests = 0;
    for (unsigned long at = 0; at < data_sectors; at += CHUNK_SECTORS) {
        unsigned long n = data_sectors - at < CHUNK_SECTORS ? data_sectors - at : CHUNK_SECTORS;
        if (disk_read(at, n, buffer) != 0) {
            printf("disk-checksum: FAIL read of sectors %lu..%lu\n", at, at + n);
            return 1;
        }
        requests++;
        for (unsigned long i = 0; i < n * RRKIT_SECTOR_SIZE; i++)
            fnv = (fnv ^ buffer[i]) * 0x100000001b3ul;
    }
    /* A request past the end must be refused, not wrap around. */
    int refused = disk_read(sectors, 1, buffer) != 0;

    int ok = fnv == expected && refused;
    printf("disk-checksum: %s sectors=%lu requests=%lu fnv=%016lx\n", ok ? "ok" : "FAIL", data_sectors,
           requests, fnv);
    return ok ? 0 : 1;
}
