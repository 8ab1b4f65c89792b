/* sha256.c - SHA-256 (FIPS 180-4), used to check that a model file is the pinned one.
 *
 * DESIGN
 *   The streaming layer (init/update/final) buffers a partial block and hands whole blocks to
 *   the compression function. Two compression functions exist:
 *     - dumu_sha256_blocks_ref: the plain loop of FIPS 180-4 §6.2.2, the spec (~250 MB/s);
 *     - an x86 SHA-extensions version (SHA256RNDS2/MSG1/MSG2), compiled for that target with a
 *       function attribute and used when CPUID says the CPU has them (Zen, Ice Lake and
 *       later), ~1.5-2 GB/s.
 *   The model file is 174 MB, so the accelerated path keeps verification to ~0.1 s. The
 *   intrinsics live here rather than in src/nn/simd_*.c because they are SHA-specific and
 *   this is their only user; tests hold both versions equal.
 *
 *   SHA-extension state layout: SHA256RNDS2 keeps the eight working variables as two vectors,
 *   ABEF (lane 3 = a, 2 = b, 1 = e, 0 = f) and CDGH (lane 3 = c, 2 = d, 1 = g, 0 = h); each
 *   call does two rounds with W[t]+K[t] taken from the low two lanes of its third operand, and
 *   returns the new ABEF while the old ABEF becomes the new CDGH.
 *
 * REFERENCES
 *   NIST FIPS 180-4, Secure Hash Standard (2015): §4.1.2 functions, §4.2.2 constants,
 *   §5.1.1 padding, §6.2 computation. Test vectors: FIPS 180-2 appendix B.
 *   Intel, "Intel SHA Extensions" (Gulley et al., 2013): instruction semantics. */
#include "sha256.h"

#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#    include <cpuid.h>
#    include <immintrin.h>
#    include <pthread.h>
#    define DUMU_SHA256_NI 1
#else
#    define DUMU_SHA256_NI 0
#endif

/* First 32 bits of the fractional parts of the cube roots of the first 64 primes (§4.2.2). */
/* clang-format off */
static const uint32_t K256[64] = {
    0x428a2f98u, 0x71374491u, 0xb5c0fbcfu, 0xe9b5dba5u,
    0x3956c25bu, 0x59f111f1u, 0x923f82a4u, 0xab1c5ed5u,
    0xd807aa98u, 0x12835b01u, 0x243185beu, 0x550c7dc3u,
    0x72be5d74u, 0x80deb1feu, 0x9bdc06a7u, 0xc19bf174u,
    0xe49b69c1u, 0xefbe4786u, 0x0fc19dc6u, 0x240ca1ccu,
    0x2de92c6fu, 0x4a7484aau, 0x5cb0a9dcu, 0x76f988dau,
    0x983e5152u, 0xa831c66du, 0xb00327c8u, 0xbf597fc7u,
    0xc6e00bf3u, 0xd5a79147u, 0x06ca6351u, 0x14292967u,
    0x27b70a85u, 0x2e1b2138u, 0x4d2c6dfcu, 0x53380d13u,
    0x650a7354u, 0x766a0abbu, 0x81c2c92eu, 0x92722c85u,
    0xa2bfe8a1u, 0xa81a664bu, 0xc24b8b70u, 0xc76c51a3u,
    0xd192e819u, 0xd6990624u, 0xf40e3585u, 0x106aa070u,
    0x19a4c116u, 0x1e376c08u, 0x2748774cu, 0x34b0bcb5u,
    0x391c0cb3u, 0x4ed8aa4au, 0x5b9cca4fu, 0x682e6ff3u,
    0x748f82eeu, 0x78a5636fu, 0x84c87814u, 0x8cc70208u,
    0x90befffau, 0xa4506cebu, 0xbef9a3f7u, 0xc67178f2u,
};
/* clang-format on */

/* Initial hash value: fractional parts of the square roots of the first 8 primes (§5.3.3). */
static const uint32_t H256[8] = {
    0x6a09e667u, 0xbb67ae85u, 0x3c6ef372u, 0xa54ff53au,
    0x510e527fu, 0x9b05688cu, 0x1f83d9abu, 0x5be0cd19u,
};

static uint32_t rotr(uint32_t x, int n) {
    return (x >> n) | (x << (32 - n));
}

static uint32_t load_be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

void dumu_sha256_blocks_ref(uint32_t h[8], const uint8_t *blocks, size_t n_blocks) {
    for (size_t b = 0; b < n_blocks; b++) {
        const uint8_t *p = blocks + 64 * b;
        uint32_t w[64];
        for (int t = 0; t < 16; t++)
            w[t] = load_be32(p + 4 * t);
        for (int t = 16; t < 64; t++) {
            uint32_t s0 = rotr(w[t - 15], 7) ^ rotr(w[t - 15], 18) ^ (w[t - 15] >> 3);
            uint32_t s1 = rotr(w[t - 2], 17) ^ rotr(w[t - 2], 19) ^ (w[t - 2] >> 10);
            w[t] = w[t - 16] + s0 + w[t - 7] + s1;
        }
        uint32_t a = h[0], bb = h[1], c = h[2], d = h[3];
        uint32_t e = h[4], f = h[5], g = h[6], hh = h[7];
        for (int t = 0; t < 64; t++) {
            uint32_t S1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25);
            uint32_t ch = (e & f) ^ (~e & g);
            uint32_t t1 = hh + S1 + ch + K256[t] + w[t];
            uint32_t S0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22);
            uint32_t maj = (a & bb) ^ (a & c) ^ (bb & c);
            uint32_t t2 = S0 + maj;
            hh = g;
            g = f;
            f = e;
            e = d + t1;
            d = c;
            c = bb;
            bb = a;
            a = t1 + t2;
        }
        h[0] += a;
        h[1] += bb;
        h[2] += c;
        h[3] += d;
        h[4] += e;
        h[5] += f;
        h[6] += g;
        h[7] += hh;
    }
}

#if DUMU_SHA256_NI
__attribute__((target("sha,sse4.1,ssse3"))) static void
sha256_blocks_ni(uint32_t h[8], const uint8_t *blocks, size_t n_blocks) {
    /* Byte swap of each 32-bit lane: the message words are big-endian. */
    const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL);

    /* h[0..3] = a b c d, h[4..7] = e f g h  ->  ABEF and CDGH (see DESIGN). */
    __m128i abcd = _mm_loadu_si128((const __m128i *)(const void *)&h[0]);
    __m128i efgh = _mm_loadu_si128((const __m128i *)(const void *)&h[4]);
    __m128i badc = _mm_shuffle_epi32(abcd, 0xB1);     /* lanes b a d c */
    __m128i hgfe = _mm_shuffle_epi32(efgh, 0x1B);     /* lanes h g f e */
    __m128i abef = _mm_alignr_epi8(badc, hgfe, 8);    /* lanes f e b a */
    __m128i cdgh = _mm_blend_epi16(hgfe, badc, 0xF0); /* lanes h g d c */

    for (size_t b = 0; b < n_blocks; b++) {
        const uint8_t *p = blocks + 64 * b;
        __m128i abef0 = abef, cdgh0 = cdgh;
        __m128i m[4]; /* m[r % 4] = W[4r .. 4r+3] for the current group r */
        for (int i = 0; i < 4; i++) {
            m[i] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(const void *)(p + 16 * i)),
                                    bswap);
        }
        for (int r = 0; r < 16; r++) {
            if (r >= 4) {
                /* W[t] = W[t-16] + s0(W[t-15]) + W[t-7] + s1(W[t-2]), four at a time. */
                __m128i t = _mm_sha256msg1_epu32(m[r & 3], m[(r + 1) & 3]);
                t = _mm_add_epi32(t, _mm_alignr_epi8(m[(r + 3) & 3], m[(r + 2) & 3], 4));
                m[r & 3] = _mm_sha256msg2_epu32(t, m[(r + 3) & 3]);
            }
            __m128i wk = _mm_add_epi32(
                m[r & 3], _mm_loadu_si128((const __m128i *)(const void *)&K256[4 * r]));
            cdgh = _mm_sha256rnds2_epu32(cdgh, abef, wk); /* rounds 4r, 4r+1 */
            wk = _mm_shuffle_epi32(wk, 0x0E);
            abef = _mm_sha256rnds2_epu32(abef, cdgh, wk); /* rounds 4r+2, 4r+3 */
        }
        abef = _mm_add_epi32(abef, abef0);
        cdgh = _mm_add_epi32(cdgh, cdgh0);
    }

    __m128i abef_r = _mm_shuffle_epi32(abef, 0x1B); /* lanes a b e f */
    __m128i dchg = _mm_shuffle_epi32(cdgh, 0xB1);   /* lanes g h c d */
    abcd = _mm_blend_epi16(abef_r, dchg, 0xF0);     /* lanes a b c d */
    efgh = _mm_alignr_epi8(dchg, abef_r, 8);        /* lanes e f g h */
    _mm_storeu_si128((__m128i *)(void *)&h[0], abcd);
    _mm_storeu_si128((__m128i *)(void *)&h[4], efgh);
}
#endif

#if DUMU_SHA256_NI
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static bool g_has_sha; /* written once under g_once */

/* CPUID leaf 7: EBX bit 29 = SHA; leaf 1: ECX bit 19 = SSE4.1, bit 9 = SSSE3. */
static void detect(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 19)) || !(c & (1u << 9))) return;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return;
    g_has_sha = (b >> 29) & 1u;
}
#endif

bool dumu_sha256_accelerated(void) {
#if DUMU_SHA256_NI
    pthread_once(&g_once, detect);
    return g_has_sha;
#else
    return false;
#endif
}

void dumu_sha256_blocks(uint32_t h[8], const uint8_t *blocks, size_t n_blocks) {
#if DUMU_SHA256_NI
    if (dumu_sha256_accelerated()) {
        sha256_blocks_ni(h, blocks, n_blocks);
        return;
    }
#endif
    dumu_sha256_blocks_ref(h, blocks, n_blocks);
}

void dumu_sha256_init(dumu_sha256_ctx *ctx) {
    memcpy(ctx->h, H256, sizeof(H256));
    ctx->n_bytes = 0;
    ctx->n_buf = 0;
}

void dumu_sha256_update(dumu_sha256_ctx *ctx, const void *data, size_t size) {
    const uint8_t *p = data;
    ctx->n_bytes += size;
    if (ctx->n_buf) {
        size_t take = 64 - ctx->n_buf;
        if (take > size) take = size;
        memcpy(ctx->buf + ctx->n_buf, p, take);
        ctx->n_buf += take;
        p += take;
        size -= take;
        if (ctx->n_buf < 64) return;
        dumu_sha256_blocks(ctx->h, ctx->buf, 1);
        ctx->n_buf = 0;
    }
    size_t whole = size / 64;
    if (whole) dumu_sha256_blocks(ctx->h, p, whole);
    p += whole * 64;
    size -= whole * 64;
    if (size) memcpy(ctx->buf, p, size);
    ctx->n_buf = size;
}

void dumu_sha256_final(dumu_sha256_ctx *ctx, uint8_t digest[DUMU_SHA256_DIGEST_SIZE]) {
    /* Padding (§5.1.1): 0x80, zeros to 56 mod 64, then the bit length big-endian. */
    uint64_t bits = ctx->n_bytes * 8;
    uint8_t pad[72] = {0x80};
    size_t n_pad = (ctx->n_buf < 56) ? 56 - ctx->n_buf : 120 - ctx->n_buf;
    for (int i = 0; i < 8; i++)
        pad[n_pad + (size_t)i] = (uint8_t)(bits >> (56 - 8 * i));
    uint64_t n_bytes = ctx->n_bytes;
    dumu_sha256_update(ctx, pad, n_pad + 8);
    ctx->n_bytes = n_bytes;
    for (int i = 0; i < 8; i++) {
        digest[4 * i + 0] = (uint8_t)(ctx->h[i] >> 24);
        digest[4 * i + 1] = (uint8_t)(ctx->h[i] >> 16);
        digest[4 * i + 2] = (uint8_t)(ctx->h[i] >> 8);
        digest[4 * i + 3] = (uint8_t)ctx->h[i];
    }
}

void dumu_sha256(const void *data, size_t size, uint8_t digest[DUMU_SHA256_DIGEST_SIZE]) {
    dumu_sha256_ctx ctx;
    dumu_sha256_init(&ctx);
    dumu_sha256_update(&ctx, data, size);
    dumu_sha256_final(&ctx, digest);
}

void dumu_sha256_hex(const uint8_t digest[DUMU_SHA256_DIGEST_SIZE],
                     char hex[DUMU_SHA256_HEX_SIZE]) {
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < DUMU_SHA256_DIGEST_SIZE; i++) {
        hex[2 * i] = digits[digest[i] >> 4];
        hex[2 * i + 1] = digits[digest[i] & 15];
    }
    hex[2 * DUMU_SHA256_DIGEST_SIZE] = '\0';
}
