/*
 * fdt.c — just enough of the flattened device tree format (devicetree.org spec,
 * "Flattened Devicetree (DTB) Format") to count the harts QEMU's `virt` describes.
 */
#include "board.h"

#define FDT_MAGIC      0xd00dfeedu
#define FDT_BEGIN_NODE 1u
#define FDT_END_NODE   2u
#define FDT_PROP       3u
#define FDT_NOP        4u
#define FDT_END        9u

/* The device tree is big endian; read byte by byte, so alignment does not matter. */
static unsigned be32(const unsigned char *p)
{
    return (unsigned)p[0] << 24 | (unsigned)p[1] << 16 | (unsigned)p[2] << 8 | p[3];
}

static unsigned long align4(unsigned long n)
{
    return (n + 3) & ~3ul;
}

unsigned fdt_count_cpus(const void *fdt)
{
    const unsigned char *base = fdt;
    if (be32(base) != FDT_MAGIC)
        return 0;
    const unsigned char *p = base + be32(base + 8);   /* off_dt_struct */
    const unsigned char *end = p + be32(base + 36);   /* size_dt_struct */

    unsigned cpus = 0;
    while (p < end) {
        unsigned token = be32(p);
        p += 4;
        switch (token) {
        case FDT_BEGIN_NODE: {
            const char *name = (const char *)p;
            if (memcmp(name, "cpu@", 4) == 0)
                cpus++;
            p += align4(strlen(name) + 1);
            break;
        }
        case FDT_PROP:
            p += 8 + align4(be32(p)); /* len, nameoff, value */
            break;
        case FDT_END_NODE:
        case FDT_NOP:
            break;
        default: /* FDT_END or something unknown */
            return cpus;
        }
    }
    return cpus;
}
