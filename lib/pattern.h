/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Pattern expansion as in the machina format: "${name}" and "$name" (name = [A-Za-z0-9_-]+,
 * greedy for "$name"), "$$" for a literal "$", plus "$(( expr ))" integer arithmetic with
 * + - * / % unary -, parentheses, decimal / octal (leading 0) / hex (0x) literals, and variables
 * inside expressions (expanded first). Division or modulo by zero, overflow, unknown variables,
 * unterminated "${" or "$((" are errors. Output is bounded by PATTERN_OUTPUT_MAX. */

#include <stdint.h>

#include "macro.h"

#define PATTERN_OUTPUT_MAX 4096U
#define PATTERN_DEPTH_MAX  32U

/* Returns the value of a variable, or NULL if unknown. */
typedef const char *(*PatternLookup)(const char *name, void *userdata);

/* On error returns -EINVAL (or -E2BIG / -ERANGE / -ENOMEM) and, if ret_error is non-NULL, a
 * message saying what and where (column) to put into a diagnostic, e.g.
 * "division by zero at column 12". Columns count bytes from 1. -ERANGE: 64-bit overflow;
 * -E2BIG: output or nesting limit. A "$" that starts none of the forms (also at the end) is
 * literal. Inside "$(( ))" a variable's value is evaluated as an expression of its own (as if
 * parenthesized), without further variables. */
int pattern_expand(const char *pattern, PatternLookup lookup, void *userdata,
                   char **ret, char **ret_error);

/* Evaluate an arithmetic expression (the inside of "$(( ))") with no variables. */
int pattern_eval_arith(const char *expr, int64_t *ret, char **ret_error);
