/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <stdint.h>

#include "macro.h"
#include "shake128.h"
#include "tests.h"

static size_t min_size(size_t a, size_t b) {
        return a < b ? a : b;
}

static char *hex(const uint8_t *p, size_t n) {
        static const char digits[] = "0123456789abcdef";
        char *s = malloc(n * 2 + 1);

        ASSERT_TRUE(s);
        for (size_t i = 0; i < n; i++) {
                s[2 * i] = digits[p[i] >> 4];
                s[2 * i + 1] = digits[p[i] & 15];
        }
        s[2 * n] = 0;
        return s;
}

static char *shake_hex(const void *data, size_t len, size_t n) {
        _cleanup_free_ uint8_t *out = malloc(n);
        Shake128 s;

        ASSERT_TRUE(out);
        shake128_init(&s);
        shake128_absorb(&s, data, len);
        shake128_squeeze(&s, out, n);
        return hex(out, n);
}

/* 500 bytes that are not a repeating block pattern of the rate. */
static void make_input(uint8_t *buf, size_t n) {
        for (size_t i = 0; i < n; i++)
                buf[i] = (uint8_t) ((i * 7) % 251);
}

TEST(fips202_known_answers) {
        _cleanup_free_ char *empty = shake_hex("", 0, 32), *abc = shake_hex("abc", 3, 32);

        ASSERT_STREQ(empty, "7f9c2ba4e88f827d616045507605853ed73b8093f6efbc88eb1a6eacfa66ef26");
        ASSERT_STREQ(abc, "5881092dd818bf5cf8a3ddb793fbcba74097d5c526a6d35f97b83351940f2cc8");
}

TEST(long_input) {
        /* Reference computed with an independent implementation (Python hashlib.shake_128):
         * input byte i = (i * 7) % 251 for i < 500, 200 output bytes (crosses the 168-byte rate). */
        static const char expected[] =
                "1cd450230b4c6cbafa1ec50260beb2554c852034c80292904858c3d801a6765f"
                "5210086002e0495df1a414bd467b0acd65811210e9252c87e3318aad0e646ea0"
                "f67a549927454f001bfab1412a9934b8cb59526c4379103f174df9fe829d81b6"
                "a2b4f6275940d43e5102f3dfbac546e1bc0f2e36c51c2be869cc3f560c36133b"
                "b4be7d1df2a9af615bca19d1196983c25ff185e55b76a139be8e717452b1b941"
                "23e15d65675c5603559fe1c0024b248dcbaf680b2c32864f80b2cf48df502087"
                "441caf41d46a3735";
        uint8_t in[500];
        _cleanup_free_ char *got = NULL;

        make_input(in, sizeof(in));
        got = shake_hex(in, sizeof(in), 200);
        ASSERT_STREQ(got, expected);
}

TEST(chunked_absorb_and_squeeze) {
        /* Odd chunk sizes, including ones that straddle the 168-byte block boundary, must give the
         * same stream as one-shot calls. */
        static const size_t chunks[] = { 1, 2, 3, 5, 7, 13, 31, 61, 97, 167, 168, 169, 250 };
        uint8_t in[500], ref[700], got[700];
        Shake128 s;

        make_input(in, sizeof(in));
        for (size_t len = 0; len <= sizeof(in); len += 83) {
                shake128_init(&s);
                shake128_absorb(&s, in, len);
                shake128_squeeze(&s, ref, sizeof(ref));

                for (size_t c = 0; c < ELEMENTSOF(chunks); c++) {
                        size_t step = chunks[c], off;

                        shake128_init(&s);
                        for (off = 0; off < len; off += step)
                                shake128_absorb(&s, in + off, min_size(step, len - off));
                        memset(got, 0, sizeof(got));
                        for (off = 0; off < sizeof(got); off += step)
                                shake128_squeeze(&s, got + off, min_size(step, sizeof(got) - off));
                        ASSERT_TRUE(memcmp(ref, got, sizeof(got)) == 0);
                }
        }
}

TEST(exact_block_input) {
        /* Input of exactly one rate block: padding goes into a fresh block. Compare against
         * byte-at-a-time absorption and a zero-length squeeze in between. */
        uint8_t in[168], a[40], b[40];
        Shake128 s;

        make_input(in, sizeof(in));
        shake128_init(&s);
        shake128_absorb(&s, in, sizeof(in));
        shake128_squeeze(&s, a, sizeof(a));

        shake128_init(&s);
        for (size_t i = 0; i < sizeof(in); i++)
                shake128_absorb(&s, in + i, 1);
        shake128_absorb(&s, NULL, 0);
        shake128_squeeze(&s, b, 0);
        shake128_squeeze(&s, b, sizeof(b));
        ASSERT_TRUE(memcmp(a, b, sizeof(a)) == 0);

        /* And it differs from 167 bytes of the same input. */
        shake128_init(&s);
        shake128_absorb(&s, in, sizeof(in) - 1);
        shake128_squeeze(&s, b, sizeof(b));
        ASSERT_TRUE(memcmp(a, b, sizeof(a)) != 0);
}

int main(void) {
        RUN(fips202_known_answers);
        RUN(long_input);
        RUN(chunked_absorb_and_squeeze);
        RUN(exact_block_input);
        return 0;
}
