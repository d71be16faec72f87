/*
 * barrier-stencil — Jacobi relaxation of a heated plate (an ocean-like grid solver):
 * each sweep averages every interior point's four neighbours into a second grid, rows
 * split across harts, with barrier_wait between sweeps. Values are Q16 integers.
 *
 * Checked without a reference: starting from zero with a non-negative boundary,
 * Jacobi iterates (with floor rounding too) never decrease; the boundary is mirror-
 * symmetric, so the grid must stay exactly symmetric; and no value may exceed the
 * hot edge.
 */
#include "rrkit.h"

#ifdef RRKIT_SMALL
#define SIZE 66
#define SWEEPS 50
#else
#define SIZE 258
#define SWEEPS 300
#endif
#define HOT (100l << 16)

static long grid[2][SIZE][SIZE];
static barrier_t barrier;

static unsigned long mix64(unsigned long z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ul;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebul;
    return z ^ (z >> 31);
}

int main(void)
{
    unsigned me = hart_id(), harts = num_harts();
    unsigned first = 1 + (SIZE - 2) * me / harts, last = 1 + (SIZE - 2) * (me + 1) / harts;

    if (me == 0) {
        for (unsigned j = 0; j < SIZE; j++) /* the hot top edge, in both grids */
            grid[0][0][j] = grid[1][0][j] = HOT;
    }
    barrier_wait(&barrier);

    for (unsigned sweep = 0; sweep < SWEEPS; sweep++) {
        long(*from)[SIZE] = grid[sweep & 1], (*to)[SIZE] = grid[(sweep + 1) & 1];
        for (unsigned i = first; i < last; i++)
            for (unsigned j = 1; j < SIZE - 1; j++)
                to[i][j] = (from[i - 1][j] + from[i + 1][j] + from[i][j - 1] + from[i][j + 1]) >> 2;
        barrier_wait(&barrier);
    }
    if (me != 0)
        return 0;

    long(*now)[SIZE] = grid[SWEEPS & 1], (*before)[SIZE] = grid[(SWEEPS + 1) & 1];
    int ok = 1;
    unsigned long digest = 0, heat = 0;
    for (unsigned i = 1; i < SIZE - 1; i++) {
        for (unsigned j = 1; j < SIZE - 1; j++) {
            ok = ok && now[i][j] >= before[i][j] && now[i][j] <= HOT &&
                 now[i][j] == now[i][SIZE - 1 - j];
            digest = mix64(digest ^ (unsigned long)now[i][j]);
            heat += (unsigned long)now[i][j];
        }
    }
    ok = ok && now[1][SIZE / 2] > 0;
    printf("barrier-stencil: %s grid=%u sweeps=%u heat=%lu digest=%016lx\n", ok ? "ok" : "FAIL",
           SIZE, SWEEPS, heat, digest);
    return ok ? 0 : 1;
}
