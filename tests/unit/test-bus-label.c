/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "bus-label.h"
#include "macro.h"
#include "tests.h"

static void check_escape(const char *in, const char *expected) {
        _cleanup_free_ char *e = NULL, *u = NULL;

        e = bus_label_escape(in);
        ASSERT_STREQ(e, expected);
        u = bus_label_unescape(e);
        ASSERT_STREQ(u, in);
}

static void check_malformed(const char *label) {
        errno = 0;
        ASSERT_TRUE(!bus_label_unescape(label));
        ASSERT_EQ(errno, EINVAL);
}

TEST(escape) {
        check_escape("", "_");
        check_escape("alpha", "alpha");
        check_escape("Alpha2", "Alpha2");
        check_escape("web-1", "web_2d1");
        check_escape("a_b", "a_5fb");
        check_escape("a.b c", "a_2eb_20c");
        check_escape("1st", "_31st");
        check_escape("9", "_39");
        check_escape("_", "_5f");
        check_escape("/", "_2f");
        check_escape("\xc3\xa9t\xc3\xa9", "_c3_a9t_c3_a9");   /* UTF-8 "été" byte by byte */
        check_escape("\x7f\x01", "_7f_01");
}

TEST(escape_output_is_label) {
        /* Every escaped byte string is a valid object path element: only [A-Za-z0-9_], not empty. */
        char in[256];

        for (unsigned i = 1; i < 256; i++)
                in[i - 1] = (char) i;
        in[255] = 0;

        _cleanup_free_ char *e = bus_label_escape(in), *u = NULL;
        ASSERT_TRUE(e);
        for (const char *p = e; *p; p++)
                ASSERT_TRUE((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                            (*p >= '0' && *p <= '9') || *p == '_');
        u = bus_label_unescape(e);
        ASSERT_STREQ(u, in);
}

TEST(round_trip_all_pairs) {
        /* Every two-byte name round-trips. */
        for (unsigned a = 1; a < 256; a++)
                for (unsigned b = 0; b < 256; b += 15) {
                        char in[3] = { (char) a, (char) b, 0 };
                        _cleanup_free_ char *e = bus_label_escape(in), *u = NULL;

                        ASSERT_TRUE(e);
                        u = bus_label_unescape(e);
                        ASSERT_STREQ(u, in);
                }
}

TEST(unescape_malformed) {
        check_malformed("");
        check_malformed("a_");          /* truncated escape */
        check_malformed("a_2");
        check_malformed("_zz");         /* not hex */
        check_malformed("_2D");         /* uppercase hex is never produced */
        check_malformed("_00");         /* NUL */
        check_malformed("_61");         /* "a" is never escaped: a second label for "a" */
        check_malformed("a_31");        /* non-leading digit is never escaped */
        check_malformed("1st");         /* leading digit must be escaped */
        check_malformed("a-b");         /* not a label character */
        check_malformed("a.b");
        check_malformed("\xc3\xa9");
        check_malformed("__");

        errno = 0;
        ASSERT_TRUE(!bus_label_unescape(NULL));
        ASSERT_EQ(errno, EINVAL);
        ASSERT_TRUE(!bus_label_escape(NULL));
}

TEST(unescape_accepts_leading_digit_escape) {
        _cleanup_free_ char *u = bus_label_unescape("_31a2");

        ASSERT_STREQ(u, "1a2");
}

int main(void) {
        RUN(escape);
        RUN(escape_output_is_label);
        RUN(round_trip_all_pairs);
        RUN(unescape_malformed);
        RUN(unescape_accepts_leading_digit_escape);
        return 0;
}
