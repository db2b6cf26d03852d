/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Object path labels, the same escaping as systemd's bus_label_escape(). Unescaping is strict: it
 * accepts only what escaping produces, so label ↔ name is a bijection and two labels never name
 * the same machine. */

#include <stdint.h>

#include "bus-label.h"
#include "macro.h"

static bool is_alpha(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(char c) {
        return c >= '0' && c <= '9';
}

static int unhex_lower(char c) {
        if (is_digit(c))
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        return -EINVAL;
}

/* Whether escaping leaves byte c at position i as it is. */
static bool keeps(char c, size_t i) {
        return is_alpha(c) || (i > 0 && is_digit(c));
}

char *bus_label_escape(const char *s) {
        static const char hex[] = "0123456789abcdef";
        size_t n;
        char *r, *t;

        if (!s) {
                errno = EINVAL;
                return NULL;
        }

        if (!*s)
                return strdup("_");

        n = strlen(s);
        if (n > (SIZE_MAX - 1) / 3) {
                errno = ENOMEM;
                return NULL;
        }

        r = t = malloc(n * 3 + 1);
        if (!r)
                return NULL;

        for (size_t i = 0; i < n; i++) {
                uint8_t c = (uint8_t) s[i];

                if (keeps((char) c, i))
                        *t++ = (char) c;
                else {
                        *t++ = '_';
                        *t++ = hex[c >> 4];
                        *t++ = hex[c & 15];
                }
        }
        *t = 0;
        return r;
}

char *bus_label_unescape(const char *label) {
        _cleanup_free_ char *r = NULL;
        size_t n, k = 0;

        if (!label || !*label) {
                errno = EINVAL;
                return NULL;
        }

        if (streq(label, "_"))
                return strdup("");

        n = strlen(label);
        r = malloc(n + 1);
        if (!r)
                return NULL;

        for (size_t i = 0; i < n; i++) {
                char c = label[i];

                if (c == '_') {
                        int a, b;

                        if (i + 2 >= n) {
                                errno = EINVAL;
                                return NULL;
                        }
                        a = unhex_lower(label[i + 1]);
                        b = unhex_lower(label[i + 2]);
                        if (a < 0 || b < 0) {
                                errno = EINVAL;
                                return NULL;
                        }
                        c = (char) ((a << 4) | b);

                        /* A NUL cannot be in a name, and an escape of a byte that escaping keeps
                         * would be a second label for the same name. */
                        if (c == 0 || keeps(c, k)) {
                                errno = EINVAL;
                                return NULL;
                        }
                        i += 2;
                } else if (!keeps(c, k)) {
                        errno = EINVAL;
                        return NULL;
                }

                r[k++] = c;
        }
        r[k] = 0;

        return TAKE_PTR(r);
}
