/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Errors and warnings found in definitions. Every entry names the file, the JSON path (e.g.
 * "$.volumes[1].storage") and the reason, so a typo or a bad value is visible and locatable. */

#include "macro.h"

typedef enum DiagnosticLevel {
        DIAGNOSTIC_WARNING,
        DIAGNOSTIC_ERROR,
        _DIAGNOSTIC_LEVEL_MAX,
        _DIAGNOSTIC_LEVEL_INVALID = -EINVAL,
} DiagnosticLevel;

typedef struct Diagnostic {
        DiagnosticLevel level;
        char *file;       /* file name or origin ("<bus>"), never NULL */
        char *json_path;  /* "$" for the whole document, never NULL */
        char *message;    /* the reason, no trailing period */
} Diagnostic;

typedef struct Diagnostics {
        Diagnostic *entries;
        size_t n_entries;
        size_t n_errors;
} Diagnostics;

DECLARE_STRING_TABLE_LOOKUP(diagnostic_level, DiagnosticLevel);

/* Appends an entry. Returns -ENOMEM, or for DIAGNOSTIC_ERROR -EINVAL (so callers can write
 * "return diagnostics_add(...)"), for warnings 0. A NULL Diagnostics only returns the code. */
int diagnostics_add(Diagnostics *d, DiagnosticLevel level, const char *file, const char *json_path,
                    const char *format, ...) _printf_(5, 6);
#define diag_error(d, file, path, ...) diagnostics_add((d), DIAGNOSTIC_ERROR, (file), (path), __VA_ARGS__)
#define diag_warning(d, file, path, ...) diagnostics_add((d), DIAGNOSTIC_WARNING, (file), (path), __VA_ARGS__)

/* Moves all entries of src to the end of dst. */
int diagnostics_merge(Diagnostics *dst, Diagnostics *src);
/* "FILE: JSON_PATH: MESSAGE" (warnings prefixed "warning: "). Caller frees. */
char *diagnostic_format(const Diagnostic *e);
/* First error formatted (or NULL if none): what a D-Bus InvalidConfig error carries. */
char *diagnostics_first_error(const Diagnostics *d);
void diagnostics_done(Diagnostics *d);
