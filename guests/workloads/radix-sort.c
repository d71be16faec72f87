/*
 * radix-sort — parallel LSD radix sort of 32-bit keys, 8 bits per pass. Each pass:
 * every hart counts the digits of its slice, then (after a barrier) computes where
 * its slice's keys go from all harts' counts and scatters them. The sort is stable,
 * so the result is the same for any number of harts. Checked: the output is ordered
 * and is a permutation of the input (same sum, xor and sum of squares).
 *
 * The scatter is buffered, as radix sorts tuned for distributed shared memory do: a
 * hart first sorts its slice by digit into its own part of `staging`, then copies each
 * digit's run to its place in one burst. Scattering key by key straight into the
 * shared array would make two harts take turns at every page where their runs meet.
 */
#include "rrkit.h"

#ifdef RRKIT_SMALL
#define N (1u << 14)
#else
#define N (1u << 21)
#endif
#define RADIX 256
#define PASSES 4

/* Page-aligned, so harts' slices and counters do not share CREW pages (rrkit.h). */
static unsigned keys[N] RRKIT_PAGE_ALIGNED, scratch[N] RRKIT_PAGE_ALIGNED;
static unsigned staging[N] RRKIT_PAGE_ALIGNED; /* [first, last) is each hart's own */
static struct {
    unsigned digit[RADIX];
} RRKIT_PAGE_ALIGNED counts[RRKIT_MAX_HARTS];
static barrier_t barrier;

static unsigned long mix64(unsigned long z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ul;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebul;
    return z ^ (z >> 31);
}

struct fingerprint {
    unsigned long sum, xor, squares;
};

static struct fingerprint fingerprint(const unsigned *k)
{
    struct fingerprint f = { 0, 0, 0 };
    for (unsigned i = 0; i < N; i++) {
        f.sum += k[i];
        f.xor ^= k[i];
        f.squares += (unsigned long)k[i] * k[i];
    }
    return f;
}

int main(void)
{
    unsigned me = hart_id(), harts = num_harts();
    unsigned first = N * me / harts, last = N * (me + 1) / harts;

    for (unsigned i = first; i < last; i++)
        keys[i] = (unsigned)mix64(i);
    barrier_wait(&barrier);

    static struct fingerprint before;
    if (me == 0)
        before = fingerprint(keys);

    unsigned *src = keys, *dst = scratch;
    for (unsigned pass = 0; pass < PASSES; pass++) {
        unsigned shift = pass * 8;
        unsigned *mine = counts[me].digit;
        memset(mine, 0, sizeof counts[me].digit);
        for (unsigned i = first; i < last; i++)
            mine[(src[i] >> shift) & (RADIX - 1)]++;
        barrier_wait(&barrier);

        /* My keys with digit d go after all keys with smaller digits and after the
         * keys with digit d from lower-numbered harts. */
        unsigned offset[RADIX], local[RADIX];
        unsigned position = 0, local_position = first;
        for (unsigned d = 0; d < RADIX; d++) {
            for (unsigned h = 0; h < harts; h++) {
                if (h == me)
                    offset[d] = position;
                position += counts[h].digit[d];
            }
            local[d] = local_position;
            local_position += mine[d];
        }
        for (unsigned i = first; i < last; i++)
            staging[local[(src[i] >> shift) & (RADIX - 1)]++] = src[i];
        for (unsigned d = 0, from = first; d < RADIX; d++) {
            for (unsigned k = 0; k < mine[d]; k++)
                dst[offset[d] + k] = staging[from + k];
            from += mine[d];
        }
        barrier_wait(&barrier); /* also: nobody recounts before all have read counts */

        unsigned *t = src;
        src = dst;
        dst = t;
    }
    if (me != 0)
        return 0;

    struct fingerprint after = fingerprint(src);
    int ok = after.sum == before.sum && after.xor == before.xor &&
             after.squares == before.squares;
    unsigned long digest = 0;
    for (unsigned i = 0; i < N; i++) {
        if (i > 0 && src[i - 1] > src[i])
            ok = 0;
        digest = mix64(digest ^ src[i]);
    }
    printf("radix-sort: %s n=%u min=%08x max=%08x digest=%016lx\n", ok ? "ok" : "FAIL", N,
           src[0], src[N - 1], digest);
    return ok ? 0 : 1;
}
