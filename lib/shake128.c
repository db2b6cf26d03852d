/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* SHAKE128 per FIPS 202: Keccak-f[1600] sponge, rate 168 bytes, domain suffix 0x1F. Written from
 * the specification; lanes are kept as host integers and bytes are mapped little-endian, so the
 * code is endian-neutral. */

#include <string.h>

#include "shake128.h"

#define SHAKE128_RATE 168U
#define KECCAK_ROUNDS 24

static const uint64_t keccak_round_constants[KECCAK_ROUNDS] = {
        UINT64_C(0x0000000000000001), UINT64_C(0x0000000000008082),
        UINT64_C(0x800000000000808a), UINT64_C(0x8000000080008000),
        UINT64_C(0x000000000000808b), UINT64_C(0x0000000080000001),
        UINT64_C(0x8000000080008081), UINT64_C(0x8000000000008009),
        UINT64_C(0x000000000000008a), UINT64_C(0x0000000000000088),
        UINT64_C(0x0000000080008009), UINT64_C(0x000000008000000a),
        UINT64_C(0x000000008000808b), UINT64_C(0x800000000000008b),
        UINT64_C(0x8000000000008089), UINT64_C(0x8000000000008003),
        UINT64_C(0x8000000000008002), UINT64_C(0x8000000000000080),
        UINT64_C(0x000000000000800a), UINT64_C(0x800000008000000a),
        UINT64_C(0x8000000080008081), UINT64_C(0x8000000000008080),
        UINT64_C(0x0000000080000001), UINT64_C(0x8000000080008008),
};

/* Rotation offsets r[x][y], indexed as x + 5*y. */
static const unsigned keccak_rho[25] = {
         0,  1, 62, 28, 27,
        36, 44,  6, 55, 20,
         3, 10, 43, 25, 39,
        41, 45, 15, 21,  8,
        18,  2, 61, 56, 14,
};

static inline uint64_t rotl64(uint64_t v, unsigned n) {
        return (v << n) | (v >> ((64 - n) & 63));
}

/* One round reads a and writes e: θ's column parities first, then ρ, π and χ per output row,
 * so each lane is loaded once and stored once. π takes output lane (X, Y) from input lane
 * (X + 3Y mod 5, X). The loops have constant bounds and are unrolled: this permutation is most of
 * the cost of deriving an identifier. */
static void keccak_round(const uint64_t a[static 25], uint64_t e[static 25], uint64_t rc) {
        uint64_t c[5], d[5];

#pragma GCC unroll 5
        for (unsigned x = 0; x < 5; x++)
                c[x] = a[x] ^ a[x + 5] ^ a[x + 10] ^ a[x + 15] ^ a[x + 20];
#pragma GCC unroll 5
        for (unsigned x = 0; x < 5; x++)
                d[x] = c[(x + 4) % 5] ^ rotl64(c[(x + 1) % 5], 1);

#pragma GCC unroll 5
        for (unsigned y = 0; y < 5; y++) {
                uint64_t b[5];

#pragma GCC unroll 5
                for (unsigned x = 0; x < 5; x++) {
                        unsigned src = (x + 3 * y) % 5 + 5 * x;

                        b[x] = rotl64(a[src] ^ d[(x + 3 * y) % 5], keccak_rho[src]);
                }
#pragma GCC unroll 5
                for (unsigned x = 0; x < 5; x++)
                        e[x + 5 * y] = b[x] ^ (~b[(x + 1) % 5] & b[(x + 2) % 5]);
        }
        e[0] ^= rc;
}

/* Rounds in pairs, so the state ends up back in a without a copy. */
_Static_assert(KECCAK_ROUNDS % 2 == 0, "Keccak-f[1600] has an even number of rounds");

static void keccak_f1600(uint64_t a[static 25]) {
        uint64_t e[25];

        for (unsigned round = 0; round < KECCAK_ROUNDS; round += 2) {
                keccak_round(a, e, keccak_round_constants[round]);
                keccak_round(e, a, keccak_round_constants[round + 1]);
        }
}

static inline void state_xor_byte(Shake128 *s, size_t i, uint8_t v) {
        s->state[i / 8] ^= (uint64_t) v << (8 * (i % 8));
}

/* Bytes map to lanes little-endian (FIPS 202 §B.1) whatever the host order. */
static inline uint64_t load_le64(const uint8_t *p) {
        uint64_t v = 0;

        for (unsigned i = 0; i < 8; i++)
                v |= (uint64_t) p[i] << (8 * i);
        return v;
}

static inline uint8_t state_get_byte(const Shake128 *s, size_t i) {
        return (uint8_t) (s->state[i / 8] >> (8 * (i % 8)));
}

void shake128_init(Shake128 *s) {
        memset(s, 0, sizeof(*s));
}

void shake128_absorb(Shake128 *s, const void *data, size_t len) {
        const uint8_t *p = data;

        /* Absorbing after squeezing started is a caller bug; the XOF has no such operation. */
        if (s->squeezing)
                return;

        while (len > 0) {
                /* Eight bytes at a time while they fit in the block: at an unaligned position
                 * they straddle two lanes (identifier inputs are mostly unaligned strings). */
                if (len >= 8 && s->pos + 8 <= SHAKE128_RATE) {
                        uint64_t v = load_le64(p);
                        unsigned shift = 8 * (s->pos % 8);

                        s->state[s->pos / 8] ^= v << shift;
                        if (shift > 0)
                                s->state[s->pos / 8 + 1] ^= v >> (64 - shift);
                        s->pos += 8;
                        p += 8;
                        len -= 8;
                } else {
                        state_xor_byte(s, s->pos++, *p++);
                        len--;
                }
                if (s->pos == SHAKE128_RATE) {
                        keccak_f1600(s->state);
                        s->pos = 0;
                }
        }
}

static void shake128_finalize(Shake128 *s) {
        /* SHAKE domain bits 1111 followed by pad10*1; both ends may land in the same byte. */
        state_xor_byte(s, s->pos, 0x1F);
        state_xor_byte(s, SHAKE128_RATE - 1, 0x80);
        keccak_f1600(s->state);
        s->pos = 0;
        s->squeezing = 1;
}

void shake128_squeeze(Shake128 *s, void *out, size_t len) {
        uint8_t *p = out;

        if (!s->squeezing)
                shake128_finalize(s);

        for (size_t i = 0; i < len; i++) {
                if (s->pos == SHAKE128_RATE) {
                        keccak_f1600(s->state);
                        s->pos = 0;
                }
                p[i] = state_get_byte(s, s->pos++);
        }
}
