/*
 * random.c — host entropy: rrkit's entropy register, or under QEMU (which has no such
 * device) a per-hart SplitMix64 sequence stirred with mtime. The fallback is good
 * enough for workloads, not for cryptography.
 */
#include "board.h"

static unsigned long splitmix_state[RRKIT_MAX_HARTS];

static unsigned long splitmix64_mix(unsigned long z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ul;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebul;
    return z ^ (z >> 31);
}

unsigned long random_u64(void)
{
    if (board.has_rrkit_device)
        return mmio_read64(BOARD_RRKIT_DEVICE + RRKIT_DEVICE_ENTROPY);

    /* The golden-ratio step keeps successive values distinct even when mtime has not
     * moved; the hart id keeps harts' sequences apart. */
    unsigned h = hart_id();
    splitmix_state[h] += 0x9e3779b97f4a7c15ul + clint_mtime();
    return splitmix64_mix(splitmix_state[h] ^ (unsigned long)h << 56);
}
