/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <stdarg.h>

#include "log.h"

static int max_level = LOG_INFO;
static const char *prefix;

void log_set_max_level(int level) {
        max_level = level;
}

int log_get_max_level(void) {
        return max_level;
}

void log_set_prefix(const char *p) {
        prefix = p;
}

int log_internal(int level, int error, const char *format, ...) {
        int saved = errno;
        va_list ap;

        if (error < 0)
                error = -error;
        if (level <= max_level) {
                /* %m in the format refers to the passed error, as in systemd. */
                errno = error;
                if (prefix)
                        fprintf(stderr, "%s: ", prefix);
                va_start(ap, format);
                vfprintf(stderr, format, ap);
                va_end(ap);
                fputc('\n', stderr);
        }
        errno = saved;
        return -error;
}
