/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Pattern expansion: "${name}", "$name", "$$" and "$(( expr ))".
 *
 * The arithmetic is a small recursive-descent parser that works directly on the pattern text, so
 * errors carry the column in the string the user wrote. Recursion (parentheses, unary operators,
 * nested "$((") is bounded by PATTERN_DEPTH_MAX and output by PATTERN_OUTPUT_MAX, so hostile
 * input costs bounded stack and memory. A variable inside an expression is evaluated as an
 * expression of its own (as if parenthesized) without further variable expansion: values cannot
 * inject operators into the surrounding expression nor recurse. */

#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>

#include "pattern.h"

typedef struct Parser {
        const char *base;       /* start of the string columns are counted in */
        const char *p;
        PatternLookup lookup;   /* NULL: variables are not allowed */
        void *userdata;
        unsigned depth;
        char *error;
} Parser;

typedef struct Output {
        char *buf;
        size_t len;
} Output;

static bool is_name_char(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '_' || c == '-';
}

/* Printable characters quoted, anything else (control, UTF-8) as a byte value. */
static const char *char_name(char c, char buf[static 16]) {
        if (c >= 0x20 && c < 0x7f)
                (void) snprintf(buf, 16, "'%c'", c);
        else
                (void) snprintf(buf, 16, "byte 0x%02x", (uint8_t) c);
        return buf;
}

static size_t column(const Parser *p, const char *at) {
        return (size_t) (at - p->base) + 1;
}

/* Record the first error (with its column) and return r. */
_printf_(4, 5)
static int fail(Parser *p, int r, const char *at, const char *format, ...) {
        _cleanup_free_ char *what = NULL;
        va_list ap;
        int k;

        if (p->error)
                return r;

        va_start(ap, format);
        k = vasprintf(&what, format, ap);
        va_end(ap);
        if (k < 0)
                return -ENOMEM;

        if (asprintf(&p->error, "%s at column %zu", what, column(p, at)) < 0) {
                p->error = NULL;
                return -ENOMEM;
        }
        return r;
}

static int enter(Parser *p, const char *at) {
        if (p->depth >= PATTERN_DEPTH_MAX)
                return fail(p, -E2BIG, at, "expression nested too deeply (limit %u)", PATTERN_DEPTH_MAX);
        p->depth++;
        return 0;
}

static void skip_space(Parser *p) {
        while (*p->p == ' ' || *p->p == '\t' || *p->p == '\n' || *p->p == '\r')
                p->p++;
}

/* The part after "$" for "${name}" or "$name": returns the name (allocated) and moves past it. */
static int parse_var_name(Parser *p, const char *dollar, char **ret) {
        const char *start, *e;
        char *name;

        if (dollar[1] == '{') {
                start = dollar + 2;
                for (e = start; is_name_char(*e); e++)
                        ;
                if (*e == 0)
                        return fail(p, -EINVAL, dollar, "unterminated \"${\"");
                if (*e != '}')
                        return fail(p, -EINVAL, e, "invalid character %s in variable name",
                                    char_name(*e, (char[16]) {}));
                if (e == start)
                        return fail(p, -EINVAL, dollar, "empty variable name");
                p->p = e + 1;
        } else {
                start = dollar + 1;
                for (e = start; is_name_char(*e); e++)
                        ;
                p->p = e;
        }

        if ((size_t) (e - start) > PATTERN_OUTPUT_MAX)
                return fail(p, -E2BIG, dollar, "variable name too long");

        name = strndup(start, e - start);
        if (!name)
                return -ENOMEM;
        *ret = name;
        return 0;
}

static int lookup_var(Parser *p, const char *dollar, const char **ret_value, char **ret_name) {
        _cleanup_free_ char *name = NULL;
        const char *v;
        int r;

        r = parse_var_name(p, dollar, &name);
        if (r < 0)
                return r;

        v = p->lookup(name, p->userdata);
        if (!v)
                return fail(p, -EINVAL, dollar, "unknown variable \"%s\"", name);

        *ret_value = v;
        if (ret_name)
                *ret_name = TAKE_PTR(name);
        return 0;
}

static int parse_expr(Parser *p, int64_t *ret);
static int parse_arith(Parser *p, const char *dollar, int64_t *ret);

static int parse_number(Parser *p, int64_t *ret) {
        const char *start = p->p;
        unsigned base = 10;
        uint64_t v = 0;
        bool any = false;

        if (p->p[0] == '0' && (p->p[1] == 'x' || p->p[1] == 'X')) {
                base = 16;
                p->p += 2;
        } else if (p->p[0] == '0')
                base = 8;

        for (;; p->p++) {
                char c = *p->p;
                unsigned d;

                if (c >= '0' && c <= '9')
                        d = c - '0';
                else if (c >= 'a' && c <= 'f')
                        d = c - 'a' + 10;
                else if (c >= 'A' && c <= 'F')
                        d = c - 'A' + 10;
                else if (c != '-' && is_name_char(c))
                        d = 16;         /* a letter glued to a number: caught below */
                else
                        break;

                if (d >= base)
                        return fail(p, -EINVAL, start, "invalid %s number",
                                    base == 16 ? "hexadecimal" : base == 8 ? "octal" : "decimal");

                if (__builtin_mul_overflow(v, base, &v) || __builtin_add_overflow(v, d, &v) ||
                    v > INT64_MAX)
                        return fail(p, -ERANGE, start, "number out of range");
                any = true;
        }

        if (base == 16 && !any)
                return fail(p, -EINVAL, start, "invalid hexadecimal number");

        *ret = (int64_t) v;
        return 0;
}

/* A variable inside an expression: its value is an expression of its own, without variables. */
static int eval_var(Parser *p, const char *dollar, int64_t *ret) {
        _cleanup_free_ char *name = NULL;
        Parser sub = {};
        const char *v;
        int r;

        r = lookup_var(p, dollar, &v, &name);
        if (r < 0)
                return r;

        sub = (Parser) { .base = v, .p = v, .depth = p->depth };
        skip_space(&sub);
        if (*sub.p == 0)
                r = fail(&sub, -EINVAL, sub.p, "empty value");
        else {
                r = parse_expr(&sub, ret);
                if (r >= 0) {
                        skip_space(&sub);
                        if (*sub.p != 0)
                                r = fail(&sub, -EINVAL, sub.p, "unexpected %s",
                                         char_name(*sub.p, (char[16]) {}));
                }
        }
        if (r < 0) {
                if (sub.error)
                        (void) fail(p, r, dollar, "value of variable \"%s\" is not a number (%s)",
                                    name, sub.error);
                free(sub.error);
                return r;
        }
        return 0;
}

static int parse_primary(Parser *p, int64_t *ret) {
        const char *at;
        int r;

        skip_space(p);
        at = p->p;

        if (*at >= '0' && *at <= '9')
                return parse_number(p, ret);

        if (*at == '(') {
                r = enter(p, at);
                if (r < 0)
                        return r;
                p->p++;
                r = parse_expr(p, ret);
                if (r < 0)
                        return r;
                skip_space(p);
                if (*p->p != ')')
                        return fail(p, -EINVAL, at, "unbalanced \"(\"");
                p->p++;
                p->depth--;
                return 0;
        }

        if (*at == '$') {
                if (!p->lookup)
                        return fail(p, -EINVAL, at, "variables are not allowed here");
                if (at[1] == '(' && at[2] == '(')
                        return parse_arith(p, at, ret);
                if (at[1] == '{' || is_name_char(at[1]))
                        return eval_var(p, at, ret);
                return fail(p, -EINVAL, at, "unexpected '$'");
        }

        if (*at == 0)
                return fail(p, -EINVAL, at, "unexpected end of expression");
        if (*at == ')')
                return fail(p, -EINVAL, at, "missing operand before ')'");
        return fail(p, -EINVAL, at, "unexpected %s", char_name(*at, (char[16]) {}));
}

static int parse_unary(Parser *p, int64_t *ret) {
        const char *at;
        int64_t v;
        int r;

        skip_space(p);
        at = p->p;
        if (*at != '-' && *at != '+')
                return parse_primary(p, ret);

        r = enter(p, at);
        if (r < 0)
                return r;
        p->p++;
        r = parse_unary(p, &v);
        if (r < 0)
                return r;
        p->depth--;

        if (*at == '-' && __builtin_sub_overflow((int64_t) 0, v, &v))
                return fail(p, -ERANGE, at, "integer overflow in negation");
        *ret = v;
        return 0;
}

static int parse_term(Parser *p, int64_t *ret) {
        int64_t a, b;
        int r;

        r = parse_unary(p, &a);
        if (r < 0)
                return r;

        for (;;) {
                const char *op;

                skip_space(p);
                op = p->p;
                if (*op != '*' && *op != '/' && *op != '%')
                        break;
                p->p++;

                r = parse_unary(p, &b);
                if (r < 0)
                        return r;

                if (*op == '*') {
                        if (__builtin_mul_overflow(a, b, &a))
                                return fail(p, -ERANGE, op, "integer overflow in multiplication");
                        continue;
                }
                if (b == 0)
                        return fail(p, -EINVAL, op, "%s by zero", *op == '/' ? "division" : "modulo");
                if (a == INT64_MIN && b == -1)
                        return fail(p, -ERANGE, op, "integer overflow in %s",
                                    *op == '/' ? "division" : "modulo");
                a = *op == '/' ? a / b : a % b;
        }

        *ret = a;
        return 0;
}

static int parse_expr(Parser *p, int64_t *ret) {
        int64_t a, b;
        int r;

        r = parse_term(p, &a);
        if (r < 0)
                return r;

        for (;;) {
                const char *op;
                bool overflow;

                skip_space(p);
                op = p->p;
                if (*op != '+' && *op != '-')
                        break;
                p->p++;

                r = parse_term(p, &b);
                if (r < 0)
                        return r;

                overflow = *op == '+' ? __builtin_add_overflow(a, b, &a) : __builtin_sub_overflow(a, b, &a);
                if (overflow)
                        return fail(p, -ERANGE, op, "integer overflow in %s",
                                    *op == '+' ? "addition" : "subtraction");
        }

        *ret = a;
        return 0;
}

/* "$(( expr ))" starting at dollar; moves past the closing "))". */
static int parse_arith(Parser *p, const char *dollar, int64_t *ret) {
        int64_t v;
        int r;

        r = enter(p, dollar);
        if (r < 0)
                return r;

        p->p = dollar + 3;
        skip_space(p);
        if (*p->p == 0)
                return fail(p, -EINVAL, dollar, "unterminated \"$((\"");
        r = parse_expr(p, &v);
        if (r < 0)
                return r;
        skip_space(p);
        if (p->p[0] == 0 || (p->p[0] == ')' && p->p[1] == 0))
                return fail(p, -EINVAL, dollar, "unterminated \"$((\"");
        if (p->p[0] == ')' && p->p[1] != ')')
                return fail(p, -EINVAL, p->p, "unbalanced \")\"");
        if (p->p[0] != ')')
                return fail(p, -EINVAL, p->p, "unexpected %s", char_name(*p->p, (char[16]) {}));
        p->p += 2;
        p->depth--;

        *ret = v;
        return 0;
}

static int output_append(Parser *p, Output *o, const char *at, const char *s, size_t n) {
        if (n > PATTERN_OUTPUT_MAX - o->len)
                return fail(p, -E2BIG, at, "expansion longer than %u bytes", PATTERN_OUTPUT_MAX);
        memcpy(o->buf + o->len, s, n);
        o->len += n;
        return 0;
}

int pattern_expand(const char *pattern, PatternLookup lookup, void *userdata,
                   char **ret, char **ret_error) {
        _cleanup_free_ char *error = NULL;
        Output o = {};
        Parser p = {
                .base = pattern,
                .p = pattern,
                .lookup = lookup,
                .userdata = userdata,
        };
        int r = 0;

        if (!pattern || !lookup || !ret)
                return -EINVAL;

        o.buf = malloc(PATTERN_OUTPUT_MAX + 1);
        if (!o.buf)
                return -ENOMEM;

        while (*p.p) {
                const char *at = p.p, *span;

                if (*at != '$') {
                        span = strchrnul(at, '$');
                        r = output_append(&p, &o, at, at, span - at);
                        p.p = span;
                } else if (at[1] == '$') {
                        r = output_append(&p, &o, at, "$", 1);
                        p.p += 2;
                } else if (at[1] == '(' && at[2] == '(') {
                        char num[32];
                        int64_t v;

                        r = parse_arith(&p, at, &v);
                        if (r >= 0)
                                r = output_append(&p, &o, at, num,
                                                  (size_t) snprintf(num, sizeof(num), "%" PRId64, v));
                } else if (at[1] == '{' || is_name_char(at[1])) {
                        const char *v;

                        r = lookup_var(&p, at, &v, NULL);
                        if (r >= 0)
                                r = output_append(&p, &o, at, v, strlen(v));
                } else {
                        /* A "$" that starts nothing (also at the very end) stays literal. */
                        r = output_append(&p, &o, at, "$", 1);
                        p.p++;
                }
                if (r < 0)
                        break;
        }

        error = TAKE_PTR(p.error);
        if (r < 0) {
                free(o.buf);
                if (ret_error)
                        *ret_error = TAKE_PTR(error);
                return r;
        }

        o.buf[o.len] = 0;
        *ret = realloc(o.buf, o.len + 1) ?: o.buf;
        return 0;
}

int pattern_eval_arith(const char *expr, int64_t *ret, char **ret_error) {
        Parser p = { .base = expr, .p = expr };
        int64_t v;
        int r;

        if (!expr || !ret)
                return -EINVAL;

        skip_space(&p);
        if (*p.p == 0)
                r = fail(&p, -EINVAL, p.p, "empty expression");
        else {
                r = parse_expr(&p, &v);
                if (r >= 0) {
                        skip_space(&p);
                        if (*p.p == ')')
                                r = fail(&p, -EINVAL, p.p, "unbalanced \")\"");
                        else if (*p.p != 0)
                                r = fail(&p, -EINVAL, p.p, "unexpected %s", char_name(*p.p, (char[16]) {}));
                }
        }
        if (r < 0) {
                if (ret_error)
                        *ret_error = TAKE_PTR(p.error);
                free(p.error);
                return r;
        }

        *ret = v;
        return 0;
}
