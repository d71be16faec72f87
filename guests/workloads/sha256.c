/*
 * sha256 — SHA-256 (FIPS 180-4) of a batch of generated messages, split across harts
 * by message, then the SHA-256 of all their digests in order. Checked against the
 * FIPS test vector for "abc" and against the final digest for this size, computed
 * on a host with:
 *
 *   import hashlib
 *   def msg(m, n): return bytes(((i * 131) ^ (i >> 7) ^ (m * 29)) & 0xff for i in range(n))
 *   print(hashlib.sha256(b"".join(hashlib.sha256(msg(m, MESSAGE_BYTES)).digest()
 *                                  for m in range(MESSAGES))).hexdigest())
 */
#include "rrkit.h"

#ifdef RRKIT_SMALL
#define MESSAGES 16
#define MESSAGE_BYTES 4096
#define EXPECTED "d238f87ca30dac8911f503fcbd988b231132c09d2ac29f5e7b17f625e88a7efe"
#else
#define MESSAGES 64
#define MESSAGE_BYTES 81920
#define EXPECTED "32bf209e94d779193bc08124cf6759372af82139a120f2b060866ee2728fc9a1"
#endif

struct sha256 {
    unsigned state[8];
    unsigned char block[64];
    unsigned block_used;
    unsigned long length; /* bytes hashed so far */
};

static const unsigned round_constants[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
    0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
    0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
    0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
    0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
    0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
    0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
    0xc67178f2,
};

static unsigned rotr(unsigned x, unsigned n)
{
    return x >> n | x << (32 - n);
}

static void compress(unsigned state[8], const unsigned char block[64])
{
    unsigned w[64];
    for (unsigned i = 0; i < 16; i++)
        w[i] = (unsigned)block[4 * i] << 24 | (unsigned)block[4 * i + 1] << 16 |
               (unsigned)block[4 * i + 2] << 8 | block[4 * i + 3];
    for (unsigned i = 16; i < 64; i++) {
        unsigned s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
        unsigned s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    unsigned a = state[0], b = state[1], c = state[2], d = state[3];
    unsigned e = state[4], f = state[5], g = state[6], h = state[7];
    for (unsigned i = 0; i < 64; i++) {
        unsigned t1 = h + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) +
                      round_constants[i] + w[i];
        unsigned t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        h = g, g = f, f = e, e = d + t1;
        d = c, c = b, b = a, a = t1 + t2;
    }
    state[0] += a, state[1] += b, state[2] += c, state[3] += d;
    state[4] += e, state[5] += f, state[6] += g, state[7] += h;
}

static void sha256_init(struct sha256 *s)
{
    static const unsigned initial[8] = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                         0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19 };
    memcpy(s->state, initial, sizeof initial);
    s->block_used = 0;
    s->length = 0;
}

static void sha256_update(struct sha256 *s, const unsigned char *data, unsigned long n)
{
    s->length += n;
    while (n--) {
        s->block[s->block_used++] = *data++;
        if (s->block_used == 64) {
            compress(s->state, s->block);
            s->block_used = 0;
        }
    }
}

static void sha256_final(struct sha256 *s, unsigned char digest[32])
{
    unsigned long bits = s->length * 8;
    unsigned char pad = 0x80;
    sha256_update(s, &pad, 1);
    pad = 0;
    while (s->block_used != 56)
        sha256_update(s, &pad, 1);
    unsigned char length_be[8];
    for (unsigned i = 0; i < 8; i++)
        length_be[i] = (unsigned char)(bits >> (56 - 8 * i));
    sha256_update(s, length_be, 8);
    for (unsigned i = 0; i < 32; i++)
        digest[i] = (unsigned char)(s->state[i / 4] >> (24 - 8 * (i % 4)));
}

static void to_hex(const unsigned char digest[32], char hex[65])
{
    for (unsigned i = 0; i < 32; i++) {
        hex[2 * i] = "0123456789abcdef"[digest[i] >> 4];
        hex[2 * i + 1] = "0123456789abcdef"[digest[i] & 15];
    }
    hex[64] = 0;
}

/* Byte i of message m (msg() in the Python above). */
static unsigned char message_byte(unsigned m, unsigned i)
{
    return (unsigned char)((i * 131) ^ (i >> 7) ^ (m * 29));
}

/* One buffer per hart; rows are whole pages, aligned so no two harts write one page. */
static unsigned char messages[RRKIT_MAX_HARTS][MESSAGE_BYTES] RRKIT_PAGE_ALIGNED;
static unsigned char digests[MESSAGES][32];
static barrier_t barrier;

int main(void)
{
    unsigned me = hart_id(), harts = num_harts();

    for (unsigned m = MESSAGES * me / harts; m < MESSAGES * (me + 1) / harts; m++) {
        for (unsigned i = 0; i < MESSAGE_BYTES; i++)
            messages[me][i] = message_byte(m, i);
        struct sha256 s;
        sha256_init(&s);
        sha256_update(&s, messages[me], MESSAGE_BYTES);
        sha256_final(&s, digests[m]);
    }
    barrier_wait(&barrier);
    if (me != 0)
        return 0;

    struct sha256 s;
    unsigned char digest[32];
    char hex[65];
    sha256_init(&s);
    sha256_update(&s, (const unsigned char *)"abc", 3);
    sha256_final(&s, digest);
    to_hex(digest, hex);
    int ok = memcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
                    64) == 0;

    sha256_init(&s);
    sha256_update(&s, &digests[0][0], sizeof digests);
    sha256_final(&s, digest);
    to_hex(digest, hex);
    ok = ok && memcmp(hex, EXPECTED, 64) == 0;
    printf("sha256: %s messages=%u bytes=%u digest=%s\n", ok ? "ok" : "FAIL", MESSAGES,
           MESSAGE_BYTES, hex);
    return ok ? 0 : 1;
}
