/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* pattern_expand() and pattern_eval_arith() on arbitrary bytes: no crash, bounded output, and
 * every failure (other than ENOMEM) comes with a message that names a column. */

#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "macro.h"
#include "pattern.h"

/* Larger inputs only repeat what smaller ones cover and slow the fuzzer down. */
#define FUZZ_INPUT_MAX (64U * 1024U)

static const char *lookup(const char *name, void *userdata) {
        static const char *const table[][2] = {
                { "machine-name",  "alpha" },
                { "machine-index", "3" },
                { "machine-id",    "0f6b2e8a-5d0c-4c1e-9a57-3f2d8b1c7e40" },
                { "volume",        "root" },
                { "n",             "-12" },
                { "e",             "1+2*3" },
                { "x",             "0x7fffffffffffffff" },
                { "empty",         "" },
                { "dollar",        "$n" },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                if (streq(table[i][0], name))
                        return table[i][1];
        return NULL;
}

static void check_error(int r, const char *error) {
        if (r == -ENOMEM)
                return;
        if ((r != -EINVAL && r != -E2BIG && r != -ERANGE) || !error || !strstr(error, " at column "))
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_free_ char *s = NULL, *out = NULL, *error = NULL, *arith_error = NULL;
        int64_t v;
        int r;

        if (size > FUZZ_INPUT_MAX)
                return 0;

        /* The API takes C strings: stop at the first NUL as a caller would. */
        s = strndup((const char *) data, size);
        if (!s)
                return 0;

        r = pattern_expand(s, lookup, NULL, &out, &error);
        if (r >= 0) {
                if (!out || error || strlen(out) > PATTERN_OUTPUT_MAX)
                        abort();
        } else {
                if (out)
                        abort();
                check_error(r, error);
        }

        r = pattern_eval_arith(s, &v, &arith_error);
        if (r < 0)
                check_error(r, arith_error);
        else if (arith_error)
                abort();

        return 0;
}
