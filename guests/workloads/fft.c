/*
 * fft — fixed-point radix-2 FFTs of a batch of noisy tones, split across harts by
 * transform. Data are Q30-scaled 64-bit integers and twiddles Q30, so every product
 * fits in 64 bits. The forward transform halves at each stage (scaling by 1/n); the
 * inverse does not, so inverse(forward(x)) ≈ x. Each transform checks that its
 * spectrum peaks at the tone's bin and that the round trip is within a few LSB.
 */
#include "rrkit.h"

#define LOG2_N 10
#define N (1 << LOG2_N)
#ifdef RRKIT_SMALL
#define TRANSFORMS 4
#else
#define TRANSFORMS 512
#endif

#define Q 30
#define AMPLITUDE (1l << 24)
#define ROUND_TRIP_TOLERANCE (1l << 10)

struct complex {
    long re, im;
};

/* Q30, cos/sin(2πk/N). Each page is written by one hart (below). */
static long cos_table[N] RRKIT_PAGE_ALIGNED, sin_table[N] RRKIT_PAGE_ALIGNED;
#define TABLE_PAGE (RRKIT_PAGE_SIZE / sizeof(long)) /* entries */
#define TABLE_PAGES (N / TABLE_PAGE)
/* Rows are whole pages; aligned, no two harts write one CREW page (rrkit.h). */
static struct complex work[RRKIT_MAX_HARTS][N] RRKIT_PAGE_ALIGNED;
static long input[RRKIT_MAX_HARTS][N] RRKIT_PAGE_ALIGNED;
static volatile unsigned long digest_sum, failures;
static barrier_t barrier;

static unsigned long mix64(unsigned long z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ul;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebul;
    return z ^ (z >> 31);
}

static long mul_q30(long a, long b)
{
    return (a * b + (1l << (Q - 1))) >> Q;
}

/* sin and cos of theta (Q30 radians, 0 <= theta <= π/4) by Taylor series. */
static void sin_cos_octant(long theta, long *s, long *c)
{
    long theta2 = mul_q30(theta, theta);
    long sin_term = theta, cos_term = 1l << Q;
    long sin_sum = sin_term, cos_sum = cos_term;
    for (long n = 1; n <= 7; n++) {
        sin_term = -mul_q30(sin_term, theta2) / ((2 * n) * (2 * n + 1));
        cos_term = -mul_q30(cos_term, theta2) / ((2 * n - 1) * (2 * n));
        sin_sum += sin_term;
        cos_sum += cos_term;
    }
    *s = sin_sum;
    *c = cos_sum;
}

/* sin(2πk/N) for any k, from the first octant by symmetry. */
static long sin_turn(unsigned k)
{
    const long two_pi_q30 = 6746518852l; /* 2π · 2^30 */
    k %= N;
    unsigned quadrant = k / (N / 4), r = k % (N / 4);
    long s, c;
    if (r <= N / 8) {
        sin_cos_octant(two_pi_q30 * r / N, &s, &c);
    } else {
        sin_cos_octant(two_pi_q30 * (N / 4 - r) / N, &c, &s);
    }
    switch (quadrant) {
    case 0: return s;
    case 1: return c;
    case 2: return -s;
    default: return -c;
    }
}

static void transform(struct complex *x, int inverse)
{
    for (unsigned i = 1, j = 0; i < N; i++) { /* bit-reversal permutation */
        unsigned bit = N >> 1;
        for (; j & bit; bit >>= 1)
            j ^= bit;
        j |= bit;
        if (i < j) {
            struct complex t = x[i];
            x[i] = x[j];
            x[j] = t;
        }
    }
    for (unsigned len = 2; len <= N; len <<= 1) {
        unsigned step = N / len;
        for (unsigned start = 0; start < N; start += len) {
            for (unsigned k = 0; k < len / 2; k++) {
                long wr = cos_table[k * step];
                long wi = inverse ? sin_table[k * step] : -sin_table[k * step];
                struct complex *u = &x[start + k], *v = &x[start + k + len / 2];
                long tr = mul_q30(v->re, wr) - mul_q30(v->im, wi);
                long ti = mul_q30(v->re, wi) + mul_q30(v->im, wr);
                if (inverse) {
                    v->re = u->re - tr, v->im = u->im - ti;
                    u->re += tr, u->im += ti;
                } else {
                    v->re = (u->re - tr) >> 1, v->im = (u->im - ti) >> 1;
                    u->re = (u->re + tr) >> 1, u->im = (u->im + ti) >> 1;
                }
            }
        }
    }
}

/* One transform: a tone at bin `tone` plus noise; returns 0 if its checks fail. */
static int run_one(unsigned t, struct complex *x, long *in, unsigned long *digest)
{
    unsigned tone = 1 + t % (N / 2 - 1);
    for (unsigned n = 0; n < N; n++) {
        long noise = (long)(mix64(t * N + n) & 0xfff) - 0x800;
        in[n] = (sin_table[(tone * n) % N] >> (Q - 24)) + noise;
        x[n] = (struct complex){ in[n], 0 };
    }
    transform(x, 0);

    unsigned peak = 0;
    unsigned long peak_power = 0;
    for (unsigned k = 0; k <= N / 2; k++) {
        unsigned long power = (unsigned long)(x[k].re * x[k].re + x[k].im * x[k].im);
        if (power > peak_power)
            peak_power = power, peak = k;
        *digest = mix64(*digest ^ (unsigned long)x[k].re ^ (unsigned long)x[k].im << 32);
    }

    transform(x, 1);
    long worst = 0;
    for (unsigned n = 0; n < N; n++) {
        long err = x[n].re - in[n];
        err = err < 0 ? -err : err;
        worst = err > worst ? err : worst;
    }
    return peak == tone && worst <= ROUND_TRIP_TOLERANCE;
}

int main(void)
{
    unsigned me = hart_id(), harts = num_harts();

    /* The tables' pages are dealt out whole, like the rows below: harts writing slices
     * of one page would take turns at it store by store. */
    for (unsigned page = me; page < 2 * TABLE_PAGES; page += harts) {
        long *table = page < TABLE_PAGES ? sin_table : cos_table;
        unsigned quarter = page < TABLE_PAGES ? 0 : N / 4;
        unsigned first = page % TABLE_PAGES * TABLE_PAGE;
        for (unsigned k = first; k < first + TABLE_PAGE; k++)
            table[k] = sin_turn(k + quarter);
    }
    barrier_wait(&barrier);

    /* Digests are combined by addition, so the total does not depend on the split. */
    for (unsigned t = TRANSFORMS * me / harts; t < TRANSFORMS * (me + 1) / harts; t++) {
        unsigned long digest = t;
        if (!run_one(t, work[me], input[me], &digest))
            atomic_add(&failures, 1);
        atomic_add(&digest_sum, digest);
    }
    barrier_wait(&barrier);
    if (me != 0)
        return 0;

    int ok = failures == 0;
    printf("fft: %s n=%u transforms=%u failed=%lu digest=%016lx\n", ok ? "ok" : "FAIL", N,
           TRANSFORMS, failures, digest_sum);
    return ok ? 0 : 1;
}
