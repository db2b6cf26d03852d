/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <stdint.h>

#include "identifiers.h"
#include "macro.h"
#include "shake128.h"
#include "tests.h"

/* The IDENTIFIERS contract's test vectors: machine id and name. */
#define VECTOR_ID   "0f6b2e8a-5d0c-4c1e-9a57-3f2d8b1c7e40"
#define VECTOR_NAME "alpha"

static void vector_id(uuid_t ret) {
        ASSERT_EQ(uuid_parse(VECTOR_ID, ret), 0);
}

static size_t unhex(const char *s, uint8_t *out, size_t max) {
        size_t n = 0;

        for (; *s; s++) {
                unsigned v;

                if (*s == ' ')
                        continue;
                ASSERT_TRUE(s[1]);
                ASSERT_EQ(sscanf(s, "%2x", &v), 1);
                ASSERT_TRUE(n < max);
                out[n++] = (uint8_t) v;
                s++;
        }
        return n;
}

TEST(absorbed_input_vector) {
        /* The exact byte string absorbed for the MAC of connection "eth0", as written in the
         * contract, yields the stated raw output. */
        static const char absorbed[] =
                "0f6b2e8a5d0c4c1e9a573f2d8b1c7e40 0000000000000005 616c706861 000000000000000a "
                "636f6e6e656374696f6e 000000000000000d 68617264776172652d61646472 0000000000000004 "
                "65746830";
        uint8_t in[128], out[6];
        char got[13];
        Shake128 s;
        size_t n;

        n = unhex(absorbed, in, sizeof(in));
        ASSERT_EQ(n, 16 + 8 + 5 + 8 + 10 + 8 + 13 + 8 + 4);

        shake128_init(&s);
        shake128_absorb(&s, in, n);
        shake128_squeeze(&s, out, sizeof(out));
        for (unsigned i = 0; i < sizeof(out); i++)
                snprintf(got + 2 * i, 3, "%02x", out[i]);
        ASSERT_STREQ(got, "96352d488ec2");
}

TEST(mac) {
        _cleanup_free_ char *a = NULL, *b = NULL;
        uuid_t id;

        vector_id(id);
        ASSERT_OK(identifier_mac(id, VECTOR_NAME, "eth0", &a));
        ASSERT_STREQ(a, "52:54:00:48:8e:c2");
        ASSERT_TRUE(mac_is_valid(a));
        ASSERT_OK(identifier_mac(id, VECTOR_NAME, "1", &b));
        ASSERT_STREQ(b, "52:54:00:e9:6d:ac");
}

TEST(wwn) {
        _cleanup_free_ char *w = NULL;
        uuid_t id;

        vector_id(id);
        ASSERT_OK(identifier_wwn(id, VECTOR_NAME, "root", &w));
        ASSERT_STREQ(w, "0x55254001636F4B77");
        ASSERT_TRUE(wwn_is_valid(w));
}

TEST(serial) {
        _cleanup_free_ char *s = NULL;
        uuid_t id;

        vector_id(id);
        ASSERT_OK(identifier_serial(id, VECTOR_NAME, "root", &s));
        ASSERT_STREQ(s, "66QBJ72V0G8I8QVM8LJ8TOT4P8");
        ASSERT_TRUE(serial_is_valid(s));
}

TEST(device_uuid) {
        _cleanup_free_ char *u = NULL;
        uuid_t id, parsed;

        vector_id(id);
        ASSERT_OK(identifier_device_uuid(id, VECTOR_NAME, "gpu", "g0", &u));
        ASSERT_STREQ(u, "b2087904-54d4-4e50-b8de-62920f504ba1");
        ASSERT_EQ(uuid_parse(u, parsed), 0);
}

TEST(inputs_matter) {
        /* Each input changes the result; the length prefixes keep ("ab","c") and ("a","bc") apart. */
        _cleanup_free_ char *base = NULL, *other_name = NULL, *other_id = NULL, *null_id = NULL,
                *d1 = NULL, *d2 = NULL;
        uuid_t id, id2;

        vector_id(id);
        vector_id(id2);
        id2[15] ^= 1;

        ASSERT_OK(identifier_mac(id, VECTOR_NAME, "eth0", &base));
        ASSERT_OK(identifier_mac(id, "beta", "eth0", &other_name));
        ASSERT_OK(identifier_mac(id2, VECTOR_NAME, "eth0", &other_id));
        ASSERT_OK(identifier_mac(NULL, VECTOR_NAME, "eth0", &null_id));
        ASSERT_TRUE(!streq(base, other_name));
        ASSERT_TRUE(!streq(base, other_id));
        ASSERT_TRUE(!streq(base, null_id));

        ASSERT_OK(identifier_device_uuid(id, VECTOR_NAME, "ab", "c", &d1));
        ASSERT_OK(identifier_device_uuid(id, VECTOR_NAME, "a", "bc", &d2));
        ASSERT_TRUE(!streq(d1, d2));
}

TEST(null_uuid_equals_zero_uuid) {
        _cleanup_free_ char *a = NULL, *b = NULL;
        uuid_t zero = {};

        ASSERT_OK(identifier_serial(NULL, "x", "v", &a));
        ASSERT_OK(identifier_serial(zero, "x", "v", &b));
        ASSERT_STREQ(a, b);
}

TEST(invalid_arguments) {
        char *s = NULL;
        uuid_t id;

        vector_id(id);
        ASSERT_ERROR(identifier_mac(id, NULL, "eth0", &s), EINVAL);
        ASSERT_ERROR(identifier_mac(id, VECTOR_NAME, NULL, &s), EINVAL);
        ASSERT_ERROR(identifier_wwn(id, VECTOR_NAME, NULL, &s), EINVAL);
        ASSERT_ERROR(identifier_serial(id, VECTOR_NAME, NULL, &s), EINVAL);
        ASSERT_ERROR(identifier_device_uuid(id, VECTOR_NAME, "gpu", NULL, &s), EINVAL);
        ASSERT_ERROR(identifier_device_uuid(id, VECTOR_NAME, NULL, "g0", &s), EINVAL);
        ASSERT_TRUE(!s);
}

TEST(mac_validation) {
        ASSERT_TRUE(mac_is_valid("52:54:00:48:8e:c2"));
        ASSERT_TRUE(mac_is_valid("52:54:00:48:8E:C2"));
        ASSERT_TRUE(mac_is_valid("02:00:00:00:00:00"));
        ASSERT_TRUE(!mac_is_valid(NULL));
        ASSERT_TRUE(!mac_is_valid(""));
        ASSERT_TRUE(!mac_is_valid("01:00:5e:00:00:01"));        /* multicast */
        ASSERT_TRUE(!mac_is_valid("ff:ff:ff:ff:ff:ff"));        /* broadcast */
        ASSERT_TRUE(!mac_is_valid("53:54:00:48:8e:c2"));        /* I/G bit set */
        ASSERT_TRUE(!mac_is_valid("52:54:00:48:8e"));
        ASSERT_TRUE(!mac_is_valid("52:54:00:48:8e:c2:00"));
        ASSERT_TRUE(!mac_is_valid("52:54:00:48:8e:c"));
        ASSERT_TRUE(!mac_is_valid("52:54:00:48:8e:g2"));
        ASSERT_TRUE(!mac_is_valid("52-54-00-48-8e-c2"));
        ASSERT_TRUE(!mac_is_valid("5254:00:48:8e:c2:"));
        ASSERT_TRUE(!mac_is_valid("525400488ec2"));
}

TEST(wwn_validation) {
        ASSERT_TRUE(wwn_is_valid("0x55254001636F4B77"));
        ASSERT_TRUE(wwn_is_valid("0x55254001636f4b77"));
        ASSERT_TRUE(!wwn_is_valid(NULL));
        ASSERT_TRUE(!wwn_is_valid(""));
        ASSERT_TRUE(!wwn_is_valid("55254001636F4B77"));         /* no prefix */
        ASSERT_TRUE(!wwn_is_valid("0x55254001636F4B7"));        /* 15 digits */
        ASSERT_TRUE(!wwn_is_valid("0x55254001636F4B770"));      /* 17 digits */
        ASSERT_TRUE(!wwn_is_valid("0x55254001636F4B7G"));       /* non-hex */
        ASSERT_TRUE(!wwn_is_valid("0y55254001636F4B77"));
}

TEST(serial_validation) {
        ASSERT_TRUE(serial_is_valid("66QBJ72V0G8I8QVM8LJ8TOT4P8"));
        ASSERT_TRUE(serial_is_valid("a"));
        ASSERT_TRUE(serial_is_valid("disk-1_root.v2"));
        ASSERT_TRUE(serial_is_valid("123456789012345678901234567890123456"));       /* 36 */
        ASSERT_TRUE(!serial_is_valid("1234567890123456789012345678901234567"));     /* 37 */
        ASSERT_TRUE(!serial_is_valid(NULL));
        ASSERT_TRUE(!serial_is_valid(""));
        ASSERT_TRUE(!serial_is_valid("has space"));
        ASSERT_TRUE(!serial_is_valid("comma,"));
        ASSERT_TRUE(!serial_is_valid("sl/ash"));
        ASSERT_TRUE(!serial_is_valid("\xc3\xa9t\xc3\xa9"));
}

int main(void) {
        RUN(absorbed_input_vector);
        RUN(mac);
        RUN(wwn);
        RUN(serial);
        RUN(device_uuid);
        RUN(inputs_matter);
        RUN(null_uuid_equals_zero_uuid);
        RUN(invalid_arguments);
        RUN(mac_validation);
        RUN(wwn_validation);
        RUN(serial_validation);
        return 0;
}
