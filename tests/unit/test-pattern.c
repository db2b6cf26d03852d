/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <stdint.h>

#include "macro.h"
#include "pattern.h"
#include "tests.h"

static const char *const vars[][2] = {
        { "machine-name",  "alpha" },
        { "machine-index", "3" },
        { "machine-id",    "0f6b2e8a-5d0c-4c1e-9a57-3f2d8b1c7e40" },
        { "volume",        "root" },
        { "a",             "A" },
        { "a-b",           "AB" },
        { "x_1",           "X1" },
        { "empty",         "" },
        { "neg",           "-7" },
        { "sum",           "1+2" },
        { "hex",           "0x10" },
        { "word",          "abc" },
        { "nested",        "$a" },
        { "big",           "9223372036854775807" },
};

static const char *lookup(const char *name, void *userdata) {
        unsigned *calls = userdata;

        if (calls)
                (*calls)++;
        for (size_t i = 0; i < ELEMENTSOF(vars); i++)
                if (streq(vars[i][0], name))
                        return vars[i][1];
        return NULL;
}

static void check(const char *pattern, const char *expected) {
        _cleanup_free_ char *out = NULL, *err = NULL;
        int r;

        r = pattern_expand(pattern, lookup, NULL, &out, &err);
        if (r < 0)
                fprintf(stderr, "pattern \"%s\": %s\n", pattern, strna(err));
        ASSERT_OK(r);
        ASSERT_TRUE(!err);
        ASSERT_STREQ(out, expected);
}

/* Expansion fails with error -err and a message containing what. */
static void check_fail(const char *pattern, int err, const char *what) {
        _cleanup_free_ char *out = NULL, *msg = NULL;
        int r;

        r = pattern_expand(pattern, lookup, NULL, &out, &msg);
        if (r != -err || !msg || !strstr(msg, what))
                fprintf(stderr, "pattern \"%.60s\": r=%d msg=\"%s\", wanted \"%s\"\n",
                        pattern, r, strna(msg), what);
        ASSERT_ERROR(r, err);
        ASSERT_TRUE(!out);
        ASSERT_TRUE(msg && strstr(msg, what));
}

static void check_arith(const char *expr, int64_t expected) {
        _cleanup_free_ char *err = NULL;
        int64_t v = 0;
        int r;

        r = pattern_eval_arith(expr, &v, &err);
        if (r < 0)
                fprintf(stderr, "expr \"%s\": %s\n", expr, strna(err));
        ASSERT_OK(r);
        ASSERT_EQ(v, expected);
}

static void check_arith_fail(const char *expr, int err, const char *what) {
        _cleanup_free_ char *msg = NULL;
        int64_t v = 42;
        int r;

        r = pattern_eval_arith(expr, &v, &msg);
        if (r != -err || !msg || !strstr(msg, what))
                fprintf(stderr, "expr \"%.60s\": r=%d msg=\"%s\", wanted \"%s\"\n",
                        expr, r, strna(msg), what);
        ASSERT_ERROR(r, err);
        ASSERT_EQ(v, 42);
        ASSERT_TRUE(msg && strstr(msg, what));
}

TEST(literals) {
        check("", "");
        check("plain text", "plain text");
        check("/var/lib/machina/images", "/var/lib/machina/images");
        check("\xc3\xa9t\xc3\xa9", "\xc3\xa9t\xc3\xa9");
}

TEST(dollar) {
        check("$$", "$");
        check("cost: $$5", "cost: $5");
        check("$$$$", "$$");
        check("$$machine-name", "$machine-name");
        check("end $", "end $");                /* a lone "$" at the end stays */
        check("$", "$");
        check("a $ b", "a $ b");                /* "$" that starts nothing stays */
        check("$/x", "$/x");
        check("$(x)", "$(x)");                  /* single paren: no command substitution */
}

TEST(variables) {
        check("${machine-name}", "alpha");
        check("$machine-name", "alpha");
        check("/srv/${machine-name}-${volume}.img", "/srv/alpha-root.img");
        check("/srv/$machine-name.img", "/srv/alpha.img");
        check("$a/$x_1", "A/X1");
        check("${a}-b", "A-b");
        check("$a-b", "AB");                    /* greedy: "-" is a name character */
        check("$x_1", "X1");
        check("[${empty}]", "[]");
        check("${nested}", "$a");               /* values are not expanded again */
        check("$machine-id", "0f6b2e8a-5d0c-4c1e-9a57-3f2d8b1c7e40");
}

TEST(variable_errors) {
        check_fail("${foo}", EINVAL, "unknown variable \"foo\" at column 1");
        check_fail("ab $foo-bar", EINVAL, "unknown variable \"foo-bar\" at column 4");
        check_fail("$a-", EINVAL, "unknown variable \"a-\"");
        check_fail("ab${", EINVAL, "unterminated \"${\" at column 3");
        check_fail("${machine-name", EINVAL, "unterminated \"${\" at column 1");
        check_fail("${}", EINVAL, "empty variable name at column 1");
        check_fail("${a b}", EINVAL, "invalid character ' ' in variable name at column 4");
        check_fail("${a.b}", EINVAL, "invalid character '.' in variable name at column 4");
}

TEST(lookup_called_once_per_reference) {
        _cleanup_free_ char *out = NULL;
        unsigned calls = 0;

        ASSERT_OK(pattern_expand("$a${a}$((${machine-index}))", lookup, &calls, &out, NULL));
        ASSERT_STREQ(out, "AA3");
        ASSERT_EQ(calls, 3);
}

TEST(arithmetic) {
        check("$((1+2))", "3");
        check("$(( 1 + 2 ))", "3");
        check("$(( (1+2)*3 % 4 ))", "1");
        check("$((2+3*4))", "14");
        check("$(((2+3)*4))", "20");
        check("$((10-2-3))", "5");              /* left associative */
        check("$((100/10/5))", "2");
        check("$((7/2))", "3");
        check("$((-7/2))", "-3");               /* truncation toward zero, as C and shells */
        check("$((-7%3))", "-1");
        check("$((010))", "8");                 /* octal */
        check("$((0))", "0");
        check("$((0x1f))", "31");
        check("$((0X1F + 0xa))", "41");
        check("$((-5))", "-5");
        check("$((--5))", "5");
        check("$((- -5))", "5");
        check("$((+5))", "5");
        check("$((2*-3))", "-6");
        check("$((-(1+2)))", "-3");
        check("$((\t1\n+\n2 ))", "3");
        check("$((9223372036854775807))", "9223372036854775807");
        check("$((-9223372036854775807 - 1))", "-9223372036854775808");
        check("port $((5900 + ${machine-index})) ok", "port 5903 ok");
        check("$((5900 + $machine-index))", "5903");
        check("$((${neg} * 2))", "-14");
        check("$((${sum} * 3))", "9");          /* a value is one operand, as if parenthesized */
        check("$(($hex + 1))", "17");
        check("$(( $((1+2)) * $((3)) ))", "9");
        check("$((1))$((2))", "12");
        check("a$((1+1))b", "a2b");
}

TEST(arithmetic_errors) {
        check_fail("$((1/0))", EINVAL, "division by zero at column 5");
        check_fail("port $((5900 / (3 - 3)))", EINVAL, "division by zero at column 14");
        check_fail("$((5 % 0))", EINVAL, "modulo by zero at column 6");
        check_fail("$((9223372036854775807 + 1))", ERANGE, "integer overflow in addition at column 24");
        check_fail("$((-9223372036854775807 - 2))", ERANGE, "integer overflow in subtraction");
        check_fail("$((4611686018427387904 * 2))", ERANGE, "integer overflow in multiplication");
        check_fail("$((9223372036854775808))", ERANGE, "number out of range at column 4");
        check_fail("$((99999999999999999999999))", ERANGE, "number out of range");
        check_fail("$((0xffffffffffffffff))", ERANGE, "number out of range");
        check_fail("$((-${big} - 1 - 1))", ERANGE, "integer overflow in subtraction");
        check_fail("$(((-9223372036854775807 - 1) / -1))", ERANGE, "integer overflow in division");
        check_fail("$(((-9223372036854775807 - 1) % -1))", ERANGE, "integer overflow in modulo");
        check_fail("$((-(-9223372036854775807 - 1)))", ERANGE, "integer overflow in negation");
        check_fail("$((08))", EINVAL, "invalid octal number at column 4");
        check_fail("$((0x))", EINVAL, "invalid hexadecimal number");
        check_fail("$((0xg))", EINVAL, "invalid hexadecimal number");
        check_fail("$((12a))", EINVAL, "invalid decimal number");
        check_fail("$((1+2", EINVAL, "unterminated \"$((\" at column 1");
        check_fail("x $((1+2)", EINVAL, "unterminated \"$((\" at column 3");
        check_fail("$((", EINVAL, "unterminated \"$((\" at column 1");
        check_fail("$((  ", EINVAL, "unterminated \"$((\" at column 1");
        check_fail("$((1+))", EINVAL, "missing operand before ')' at column 6");
        check_fail("$(())", EINVAL, "missing operand");
        check_fail("$((1 2))", EINVAL, "unexpected '2' at column 6");
        check_fail("$((1) + 2))", EINVAL, "unbalanced \")\" at column 5");
        check_fail("$(((1+2))", EINVAL, "unterminated");
        check_fail("$((x))", EINVAL, "unexpected 'x' at column 4");
        check_fail("$((${foo}))", EINVAL, "unknown variable \"foo\" at column 4");
        check_fail("$((${word}))", EINVAL, "value of variable \"word\" is not a number");
        check_fail("$((${empty}))", EINVAL, "value of variable \"empty\" is not a number (empty value");
        check_fail("$((${nested}))", EINVAL, "variables are not allowed here");
        check_fail("$(($$))", EINVAL, "unexpected '$' at column 4");
        check_fail("$((\x01))", EINVAL, "unexpected byte 0x01 at column 4");
}

TEST(depth_limit) {
        /* Deep nesting is an error, never a stack overflow. */
        size_t n = 10000;
        _cleanup_free_ char *p = malloc(3 + 2 * n + 4), *q = malloc(3 + n + 2 + 1),
                *u = malloc(3 + n + 4), *d = malloc(n * 3 + 3);

        ASSERT_TRUE(p && q && u && d);

        /* $(( ((((…1…)))) )) */
        memcpy(p, "$((", 3);
        memset(p + 3, '(', n);
        p[3 + n] = '1';
        memset(p + 4 + n, ')', n + 2);
        p[4 + 2 * n + 2] = 0;
        check_fail(p, E2BIG, "nested too deeply (limit 32)");

        /* Unbalanced: opening parens only. */
        memcpy(q, "$((", 3);
        memset(q + 3, '(', n);
        q[3 + n] = 0;
        check_fail(q, E2BIG, "nested too deeply");

        /* A chain of unary minus. */
        memcpy(u, "$((", 3);
        memset(u + 3, '-', n);
        memcpy(u + 3 + n, "1))", 4);
        check_fail(u, E2BIG, "nested too deeply");

        /* Nested "$((": $(($(($((…1…)))))) */
        for (size_t i = 0; i < n; i++)
                memcpy(d + 3 * i, "$((", 3);
        memcpy(d + 3 * n, "1", 2);
        check_fail(d, E2BIG, "nested too deeply");

        /* Just inside the limit works. */
        /* "$((" is one level, each "(" another: 31 parentheses fit, 32 do not. */
        char edge[3 + 32 + 1 + 32 + 2 + 1];
        for (size_t k = 31; k <= 32; k++) {
                memcpy(edge, "$((", 3);
                memset(edge + 3, '(', k);
                edge[3 + k] = '1';
                memset(edge + 4 + k, ')', k + 2);
                edge[4 + 2 * k + 2] = 0;
                if (k == 31)
                        check(edge, "1");
                else
                        check_fail(edge, E2BIG, "nested too deeply");
        }
        check_arith("((((((((((((((((((((((((((((((((1))))))))))))))))))))))))))))))))", 1);
        check_arith_fail("(((((((((((((((((((((((((((((((((1)))))))))))))))))))))))))))))))))",
                         E2BIG, "nested too deeply");
}

TEST(output_limit) {
        _cleanup_free_ char *exact = malloc(PATTERN_OUTPUT_MAX + 1), *over = malloc(PATTERN_OUTPUT_MAX + 2),
                *many = malloc(PATTERN_OUTPUT_MAX * 2);
        size_t k = 0;

        ASSERT_TRUE(exact && over && many);

        memset(exact, 'x', PATTERN_OUTPUT_MAX);
        exact[PATTERN_OUTPUT_MAX] = 0;
        check(exact, exact);

        memset(over, 'x', PATTERN_OUTPUT_MAX + 1);
        over[PATTERN_OUTPUT_MAX + 1] = 0;
        check_fail(over, E2BIG, "expansion longer than 4096 bytes at column 1");

        /* Growth through variables: 12 bytes of pattern → 36 bytes of output each. */
        while (k + 13 < PATTERN_OUTPUT_MAX * 2) {
                memcpy(many + k, "$machine-id ", 12);
                k += 12;
        }
        many[k] = 0;
        check_fail(many, E2BIG, "expansion longer than 4096 bytes");
}

TEST(eval_arith) {
        check_arith("1+2", 3);
        check_arith(" (1+2)*3 % 4 ", 1);
        check_arith("010", 8);
        check_arith("0x1f", 31);
        check_arith("-0", 0);
        check_arith("-9223372036854775807-1", INT64_MIN);
        check_arith_fail("", EINVAL, "empty expression at column 1");
        check_arith_fail("   ", EINVAL, "empty expression");
        check_arith_fail("1/0", EINVAL, "division by zero at column 2");
        check_arith_fail("1 + (2 * 3", EINVAL, "unbalanced \"(\" at column 5");
        check_arith_fail("1 + 2)", EINVAL, "unbalanced \")\" at column 6");
        check_arith_fail("$x + 1", EINVAL, "variables are not allowed here at column 1");
        check_arith_fail("1 +", EINVAL, "unexpected end of expression at column 4");
        check_arith_fail("9223372036854775807*-2", ERANGE, "overflow");
}

TEST(invalid_arguments) {
        char *out = NULL, *err = NULL;
        int64_t v;

        ASSERT_ERROR(pattern_expand(NULL, lookup, NULL, &out, &err), EINVAL);
        ASSERT_ERROR(pattern_expand("x", NULL, NULL, &out, &err), EINVAL);
        ASSERT_ERROR(pattern_expand("x", lookup, NULL, NULL, &err), EINVAL);
        ASSERT_ERROR(pattern_eval_arith(NULL, &v, &err), EINVAL);
        ASSERT_TRUE(!out && !err);

        /* ret_error is optional. */
        ASSERT_ERROR(pattern_expand("${nope}", lookup, NULL, &out, NULL), EINVAL);
        ASSERT_ERROR(pattern_eval_arith("1/0", &v, NULL), EINVAL);
        ASSERT_TRUE(!out);
}

int main(void) {
        RUN(literals);
        RUN(dollar);
        RUN(variables);
        RUN(variable_errors);
        RUN(lookup_called_once_per_reference);
        RUN(arithmetic);
        RUN(arithmetic_errors);
        RUN(depth_limit);
        RUN(output_limit);
        RUN(eval_arith);
        RUN(invalid_arguments);
        return 0;
}
