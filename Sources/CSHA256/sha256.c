// SHA-256 as FIPS 180-4 specifies it. Two compression functions with one interface: portable C, and the x86-64 SHA
// extensions (sha256rnds2, sha256msg1, sha256msg2) in the arrangement of Intel's white paper "Intel SHA Extensions"
// (2013), chosen once per process by CPUID.
#include "CSHA256.h"
#include <string.h>

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static const uint32_t H0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};

#define ROTR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void compress_portable(uint32_t h[8], const uint8_t *data, size_t blocks) {
    uint32_t w[64];
    while (blocks--) {
        for (int t = 0; t < 16; t++) {
            w[t] = (uint32_t)data[4 * t] << 24 | (uint32_t)data[4 * t + 1] << 16 | (uint32_t)data[4 * t + 2] << 8 | (uint32_t)data[4 * t + 3];
        }
        for (int t = 16; t < 64; t++) {
            uint32_t s0 = ROTR(w[t - 15], 7) ^ ROTR(w[t - 15], 18) ^ (w[t - 15] >> 3);
            uint32_t s1 = ROTR(w[t - 2], 17) ^ ROTR(w[t - 2], 19) ^ (w[t - 2] >> 10);
            w[t] = w[t - 16] + s0 + w[t - 7] + s1;
        }
        uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
        for (int t = 0; t < 64; t++) {
            uint32_t t1 = k + (ROTR(e, 6) ^ ROTR(e, 11) ^ ROTR(e, 25)) + ((e & f) ^ (~e & g)) + K[t] + w[t];
            uint32_t t2 = (ROTR(a, 2) ^ ROTR(a, 13) ^ ROTR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
            k = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
        }
        h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += k;
        data += 64;
    }
}

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>

__attribute__((target("sha,ssse3,sse4.1")))
static void compress_hardware(uint32_t h[8], const uint8_t *data, size_t blocks) {
    const __m128i byteSwap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
    // The state as the instructions want it: ABEF and CDGH.
    __m128i tmp = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&h[0]), 0xB1);     // CDAB
    __m128i state1 = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&h[4]), 0x1B);  // EFGH
    __m128i state0 = _mm_alignr_epi8(tmp, state1, 8);                                     // ABEF
    state1 = _mm_blend_epi16(state1, tmp, 0xF0);                                          // CDGH
    while (blocks--) {
        const __m128i abef = state0, cdgh = state1;
        __m128i w[16];  // the message schedule, four words at a time
        for (int i = 0; i < 16; i++) {
            if (i < 4) {
                w[i] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(data + 16 * i)), byteSwap);
            } else {
                // W[t-16] + σ0(W[t-15]), + W[t-7], then + σ1(W[t-2]).
                __m128i m = _mm_sha256msg1_epu32(w[i - 4], w[i - 3]);
                m = _mm_add_epi32(m, _mm_alignr_epi8(w[i - 1], w[i - 2], 4));
                w[i] = _mm_sha256msg2_epu32(m, w[i - 1]);
            }
            __m128i message = _mm_add_epi32(w[i], _mm_loadu_si128((const __m128i *)&K[4 * i]));
            state1 = _mm_sha256rnds2_epu32(state1, state0, message);
            message = _mm_shuffle_epi32(message, 0x0E);
            state0 = _mm_sha256rnds2_epu32(state0, state1, message);
        }
        state0 = _mm_add_epi32(state0, abef);
        state1 = _mm_add_epi32(state1, cdgh);
        data += 64;
    }
    tmp = _mm_shuffle_epi32(state0, 0x1B);        // FEBA
    state1 = _mm_shuffle_epi32(state1, 0xB1);     // DCHG
    state0 = _mm_blend_epi16(tmp, state1, 0xF0);  // DCBA
    state1 = _mm_alignr_epi8(state1, tmp, 8);     // HGFE
    _mm_storeu_si128((__m128i *)&h[0], state0);
    _mm_storeu_si128((__m128i *)&h[4], state1);
}

static int detect_hardware(void) {
    unsigned int a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    int ssse3 = (c >> 9) & 1, sse41 = (c >> 19) & 1;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    int sha = (b >> 29) & 1;
    return ssse3 && sse41 && sha;
}
#else
static void compress_hardware(uint32_t h[8], const uint8_t *data, size_t blocks) { compress_portable(h, data, blocks); }
static int detect_hardware(void) { return 0; }
#endif

// 0: not yet known; 1: hardware; 2: portable. Racing first calls compute the same answer (atomic, relaxed: the value
// is all that is shared).
static int chosen = 0;

int signoff_sha256_has_hardware(void) {
    int known = __atomic_load_n(&chosen, __ATOMIC_RELAXED);
    if (known == 0) {
        known = detect_hardware() ? 1 : 2;
        __atomic_store_n(&chosen, known, __ATOMIC_RELAXED);
    }
    return known == 1;
}

static void compress(signoff_sha256_ctx *ctx, const uint8_t *data, size_t blocks) {
    if (!ctx->portable && signoff_sha256_has_hardware()) {
        compress_hardware(ctx->h, data, blocks);
    } else {
        compress_portable(ctx->h, data, blocks);
    }
}

void signoff_sha256_init(signoff_sha256_ctx *ctx) {
    memcpy(ctx->h, H0, sizeof H0);
    ctx->length = 0;
    ctx->buffered = 0;
    ctx->portable = 0;
}

void signoff_sha256_init_portable(signoff_sha256_ctx *ctx) {
    signoff_sha256_init(ctx);
    ctx->portable = 1;
}

void signoff_sha256_update(signoff_sha256_ctx *ctx, const uint8_t *data, size_t length) {
    if (length == 0) return;
    ctx->length += length;
    if (ctx->buffered > 0) {
        size_t take = 64 - ctx->buffered < length ? 64 - ctx->buffered : length;
        memcpy(ctx->buffer + ctx->buffered, data, take);
        ctx->buffered += (uint32_t)take;
        data += take;
        length -= take;
        if (ctx->buffered < 64) return;
        compress(ctx, ctx->buffer, 1);
        ctx->buffered = 0;
    }
    if (length >= 64) {
        compress(ctx, data, length / 64);
        data += length / 64 * 64;
        length %= 64;
    }
    if (length > 0) {
        memcpy(ctx->buffer, data, length);
        ctx->buffered = (uint32_t)length;
    }
}

void signoff_sha256_final(signoff_sha256_ctx *ctx, uint8_t out[32]) {
    uint64_t bits = ctx->length * 8;
    uint8_t pad[72];
    size_t padLength = (ctx->buffered < 56 ? 56 : 120) - ctx->buffered;
    memset(pad, 0, sizeof pad);
    pad[0] = 0x80;
    for (int i = 0; i < 8; i++) pad[padLength + i] = (uint8_t)(bits >> (56 - 8 * i));
    uint64_t length = ctx->length;
    signoff_sha256_update(ctx, pad, padLength + 8);
    ctx->length = length;
    for (int i = 0; i < 8; i++) {
        out[4 * i] = (uint8_t)(ctx->h[i] >> 24);
        out[4 * i + 1] = (uint8_t)(ctx->h[i] >> 16);
        out[4 * i + 2] = (uint8_t)(ctx->h[i] >> 8);
        out[4 * i + 3] = (uint8_t)ctx->h[i];
    }
    memset(ctx, 0, sizeof *ctx);
}

void signoff_sha256(uint8_t out[32], const uint8_t *data, size_t length) {
    signoff_sha256_ctx ctx;
    signoff_sha256_init(&ctx);
    signoff_sha256_update(&ctx, data, length);
    signoff_sha256_final(&ctx, out);
}
