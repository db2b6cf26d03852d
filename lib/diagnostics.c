/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <stdarg.h>

#include "diagnostics.h"

static const char * const diagnostic_level_table[_DIAGNOSTIC_LEVEL_MAX] = {
        [DIAGNOSTIC_WARNING] = "warning",
        [DIAGNOSTIC_ERROR]   = "error",
};

DEFINE_STRING_TABLE_LOOKUP(diagnostic_level, DiagnosticLevel);

int diagnostics_add(Diagnostics *d, DiagnosticLevel level, const char *file, const char *json_path,
                    const char *format, ...) {
        int code = level == DIAGNOSTIC_ERROR ? -EINVAL : 0;
        _cleanup_free_ char *message = NULL, *f = NULL, *p = NULL;
        Diagnostic *n;
        va_list ap;

        if (!d)
                return code;

        va_start(ap, format);
        if (vasprintf(&message, format, ap) < 0)
                message = NULL;
        va_end(ap);
        f = strdup(file ?: "<input>");
        p = strdup(json_path ?: "$");
        if (!message || !f || !p)
                return -ENOMEM;

        n = realloc(d->entries, sizeof(Diagnostic) * (d->n_entries + 1));
        if (!n)
                return -ENOMEM;
        d->entries = n;
        d->entries[d->n_entries++] = (Diagnostic) {
                .level = level,
                .file = TAKE_PTR(f),
                .json_path = TAKE_PTR(p),
                .message = TAKE_PTR(message),
        };
        if (level == DIAGNOSTIC_ERROR)
                d->n_errors++;
        return code;
}

int diagnostics_merge(Diagnostics *dst, Diagnostics *src) {
        Diagnostic *n;

        if (src->n_entries == 0)
                return 0;
        n = realloc(dst->entries, sizeof(Diagnostic) * (dst->n_entries + src->n_entries));
        if (!n)
                return -ENOMEM;
        memcpy(n + dst->n_entries, src->entries, sizeof(Diagnostic) * src->n_entries);
        dst->entries = n;
        dst->n_entries += src->n_entries;
        dst->n_errors += src->n_errors;
        free(src->entries);
        *src = (Diagnostics) {};
        return 0;
}

char *diagnostic_format(const Diagnostic *e) {
        char *s;

        if (asprintf(&s, "%s%s: %s: %s",
                     e->level == DIAGNOSTIC_WARNING ? "warning: " : "",
                     e->file, e->json_path, e->message) < 0)
                return NULL;
        return s;
}

char *diagnostics_first_error(const Diagnostics *d) {
        for (size_t i = 0; i < d->n_entries; i++)
                if (d->entries[i].level == DIAGNOSTIC_ERROR)
                        return diagnostic_format(d->entries + i);
        return NULL;
}

void diagnostics_done(Diagnostics *d) {
        for (size_t i = 0; i < d->n_entries; i++) {
                free(d->entries[i].file);
                free(d->entries[i].json_path);
                free(d->entries[i].message);
        }
        free(d->entries);
        *d = (Diagnostics) {};
}
