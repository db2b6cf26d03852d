/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Helpers for the config tests: assert that a diagnostic with an exact file, exact JSON path and
 * a message substring was reported. */

#include "config.h"
#include "tests.h"

static inline void dump_diagnostics(const Diagnostics *d) {
        for (size_t i = 0; i < d->n_entries; i++) {
                char *s = diagnostic_format(d->entries + i);

                fprintf(stderr, "  %s\n", s ?: "(oom)");
                free(s);
        }
}

static inline void assert_diag(const Diagnostics *d, DiagnosticLevel level, const char *file,
                               const char *path, const char *substr, const char *where, int line) {
        for (size_t i = 0; i < d->n_entries; i++) {
                const Diagnostic *e = d->entries + i;

                if (e->level == level && streq(e->file, file) && streq(e->json_path, path) &&
                    strstr(e->message, substr))
                        return;
        }
        fprintf(stderr, "%s:%d: no %s at %s %s containing \"%s\"; have:\n",
                where, line, diagnostic_level_to_string(level), file, path, substr);
        dump_diagnostics(d);
        abort();
}
#define ASSERT_DIAG(d, level, file, path, substr) \
        assert_diag((d), (level), (file), (path), (substr), __FILE__, __LINE__)

#define ASSERT_NO_DIAGNOSTICS(d)                                                                \
        do {                                                                                    \
                if ((d)->n_entries != 0) {                                                      \
                        fprintf(stderr, "%s:%d: unexpected diagnostics:\n", __FILE__, __LINE__);\
                        dump_diagnostics(d);                                                    \
                        abort();                                                                \
                }                                                                               \
        } while (0)
