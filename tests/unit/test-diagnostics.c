/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "diagnostics.h"
#include "tests.h"

TEST(add_and_format) {
        _cleanup_(diagnostics_done) Diagnostics d = {};
        _cleanup_free_ char *s = NULL, *first = NULL;

        ASSERT_EQ(diag_warning(&d, "a.conf.json", "$.nmae", "unknown key \"%s\"", "nmae"), 0);
        ASSERT_ERROR(diag_error(&d, "a.conf.json", "$.volumes[0]", "bad"), EINVAL);
        ASSERT_EQ(d.n_entries, 2);
        ASSERT_EQ(d.n_errors, 1);

        s = diagnostic_format(d.entries);
        ASSERT_STREQ(s, "warning: a.conf.json: $.nmae: unknown key \"nmae\"");
        first = diagnostics_first_error(&d);
        ASSERT_STREQ(first, "a.conf.json: $.volumes[0]: bad");
}

TEST(merge) {
        _cleanup_(diagnostics_done) Diagnostics a = {}, b = {};

        ASSERT_ERROR(diag_error(&b, NULL, NULL, "x"), EINVAL);
        ASSERT_OK(diagnostics_merge(&a, &b));
        ASSERT_EQ(a.n_errors, 1);
        ASSERT_EQ(b.n_entries, 0);
        ASSERT_STREQ(a.entries[0].file, "<input>");
        ASSERT_STREQ(a.entries[0].json_path, "$");
        ASSERT_EQ(diag_error(NULL, NULL, NULL, "no sink"), -EINVAL);
}

int main(void) {
        RUN(add_and_format);
        RUN(merge);
        return 0;
}
