/*
 * matmul — dense integer matrix multiply, C = A·B (mod 2^64), rows split across harts.
 * Checked with Freivalds' method: C·x must equal A·(B·x) for a fixed vector x.
 */
#include "rrkit.h"

#ifdef RRKIT_SMALL
#define N 64
#else
#define N 320
#endif

static unsigned long a[N][N], b[N][N], c[N][N];
static barrier_t barrier;

static unsigned long mix64(unsigned long z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ul;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebul;
    return z ^ (z >> 31);
}

/* y = m·x for an N×N matrix. */
static void mat_vec(unsigned long m[N][N], const unsigned long *x, unsigned long *y)
{
    for (unsigned i = 0; i < N; i++) {
        unsigned long sum = 0;
        for (unsigned k = 0; k < N; k++)
            sum += m[i][k] * x[k];
        y[i] = sum;
    }
}

int main(void)
{
    unsigned me = hart_id(), harts = num_harts();
    unsigned first = N * me / harts, last = N * (me + 1) / harts;

    for (unsigned i = first; i < last; i++) {
        for (unsigned j = 0; j < N; j++) {
            a[i][j] = mix64(i * N + j) & 0xffff;
            b[i][j] = mix64(N * N + i * N + j) & 0xffff;
        }
    }
    barrier_wait(&barrier);

    for (unsigned i = first; i < last; i++) {
        for (unsigned j = 0; j < N; j++) {
            unsigned long sum = 0;
            for (unsigned k = 0; k < N; k++)
                sum += a[i][k] * b[k][j];
            c[i][j] = sum;
        }
    }
    barrier_wait(&barrier);
    if (me != 0)
        return 0;

    static unsigned long x[N], bx[N], abx[N], cx[N];
    for (unsigned i = 0; i < N; i++)
        x[i] = mix64(~(unsigned long)i);
    mat_vec(b, x, bx);
    mat_vec(a, bx, abx);
    mat_vec(c, x, cx);
    int ok = memcmp(abx, cx, sizeof cx) == 0;

    unsigned long digest = 0;
    for (unsigned i = 0; i < N; i++)
        for (unsigned j = 0; j < N; j++)
            digest = mix64(digest ^ c[i][j]);
    printf("matmul: %s n=%u digest=%016lx\n", ok ? "ok" : "FAIL", N, digest);
    return ok ? 0 : 1;
}
